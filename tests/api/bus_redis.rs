//! The Redis bus against a real Redis: a channel subscription survives its connection
//! being killed (the client reconnects and subscribes again).

use std::time::{Duration, Instant};

use fred::prelude::*;
use fred::types::CustomCommand;

use crate::helpers::{redis_prefix, redis_url};

#[tokio::test]
async fn a_subscription_comes_back_after_its_connection_is_killed() {
    let prefix = redis_prefix();
    let bus = bus::connect(Some(&redis_url()), &prefix).await.unwrap();
    let channel = bus.keys().alerts_channel();
    let mut sub = bus.subscribe(&channel).await.unwrap();
    bus.publish(&channel, b"one").await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), sub.recv())
        .await
        .unwrap();
    assert_eq!(got.as_deref(), Some(&b"one"[..]));

    // Kill the subscriber's connection (found by its name, the channel).
    let admin = Builder::from_config(Config::from_url(&redis_url()).unwrap())
        .build()
        .unwrap();
    admin.init().await.unwrap();
    let list: String = admin
        .custom(
            CustomCommand::new_static("CLIENT", None, false),
            vec!["LIST"],
        )
        .await
        .unwrap();
    let id = list
        .lines()
        .find(|l| l.split(' ').any(|f| f == format!("name={channel}")))
        .and_then(|l| l.split(' ').find_map(|f| f.strip_prefix("id=")))
        .unwrap_or_else(|| panic!("the subscriber's connection is listed: {list}"))
        .to_owned();
    let killed: i64 = admin
        .custom(
            CustomCommand::new_static("CLIENT", None, false),
            vec!["KILL", "ID", id.as_str()],
        )
        .await
        .unwrap();
    assert_eq!(killed, 1);

    // Published until it arrives: what went out while reconnecting is lost, later
    // messages arrive on the same subscription.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        bus.publish(&channel, b"again").await.unwrap();
        match tokio::time::timeout(Duration::from_millis(300), sub.recv()).await {
            Ok(Some(m)) => {
                assert_eq!(m, b"again");
                break;
            }
            Ok(None) => panic!("the subscription ended"),
            Err(_) => assert!(
                Instant::now() < deadline,
                "the subscription never came back"
            ),
        }
    }
    admin.quit().await.unwrap();
}
