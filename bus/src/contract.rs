//! The same behaviour from both transports: run against the in-process bus always, and
//! against Redis when `TEST_REDIS_URL` (or the default local Redis) answers.

use std::sync::Arc;
use std::time::Duration;

use crate::keys::Keys;
use crate::{Bus, BusError};

async fn buses() -> Vec<Arc<dyn Bus>> {
    let prefix = format!("smt_{}", std::process::id());
    let mut out: Vec<Arc<dyn Bus>> =
        vec![Arc::new(crate::memory::MemoryBus::new(Keys::new(&prefix)))];
    let url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let unique = format!(
        "{prefix}_{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    match crate::redis::RedisBus::connect(&url, Keys::new(&unique)).await {
        Ok(r) => out.push(Arc::new(r)),
        Err(e) => eprintln!("Redis not reachable ({e}); checking the in-process bus only"),
    }
    out
}

#[tokio::test]
async fn streams_are_ordered_fenced_and_capped() {
    for bus in buses().await {
        let s = bus.keys().blocks("eth");
        assert!(bus.stream_last(&s).await.unwrap().is_none());
        for seq in 1..=5u64 {
            bus.stream_append(&s, seq, format!("b{seq}").as_bytes(), 1000)
                .await
                .unwrap();
        }
        // A second publisher at a used position is refused.
        assert!(
            matches!(
                bus.stream_append(&s, 5, b"dup", 1000).await,
                Err(BusError::Conflict { .. })
            ),
            "{}",
            bus.kind()
        );
        assert!(matches!(
            bus.stream_append(&s, 3, b"old", 1000).await,
            Err(BusError::Conflict { .. })
        ));
        let read = bus.stream_read(&s, 2, 10, Duration::ZERO).await.unwrap();
        assert_eq!(read.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4, 5]);
        assert_eq!(read[0].payload, b"b3");
        assert_eq!(bus.stream_last(&s).await.unwrap().unwrap().seq, 5);
        // Waiting readers see what comes.
        let waiter = {
            let bus = bus.clone();
            let s = s.clone();
            tokio::spawn(async move {
                bus.stream_read(&s, 5, 10, Duration::from_secs(5))
                    .await
                    .unwrap()
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        bus.stream_append(&s, 6, b"b6", 1000).await.unwrap();
        assert_eq!(waiter.await.unwrap()[0].seq, 6);
        assert!(
            bus.stream_read(&s, 6, 10, Duration::from_millis(120))
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn leases_have_one_holder_and_expire() {
    for bus in buses().await {
        let k = bus.keys().watcher_lease("eth");
        let ttl = Duration::from_millis(300);
        assert!(bus.lease_acquire(&k, "a", ttl).await.unwrap());
        assert!(!bus.lease_acquire(&k, "b", ttl).await.unwrap());
        assert!(
            bus.lease_acquire(&k, "a", ttl).await.unwrap(),
            "re-acquiring one's own lease"
        );
        assert!(bus.lease_renew(&k, "a", ttl).await.unwrap());
        assert!(!bus.lease_renew(&k, "b", ttl).await.unwrap());
        assert_eq!(bus.lease_holder(&k).await.unwrap().as_deref(), Some("a"));
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(!bus.lease_renew(&k, "a", ttl).await.unwrap(), "expired");
        assert!(bus.lease_acquire(&k, "b", ttl).await.unwrap());
        bus.lease_release(&k, "a").await.unwrap();
        assert_eq!(
            bus.lease_holder(&k).await.unwrap().as_deref(),
            Some("b"),
            "only the holder releases"
        );
        bus.lease_release(&k, "b").await.unwrap();
        assert!(bus.lease_holder(&k).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn channels_values_and_counters() {
    for bus in buses().await {
        let c = bus.keys().config_channel();
        let mut sub = bus.subscribe(&c).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        bus.publish(&c, b"hello").await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(2), sub.recv())
            .await
            .unwrap();
        assert_eq!(got.as_deref(), Some(&b"hello"[..]));
        bus.set_value(
            &bus.keys().heartbeat("w1"),
            b"1",
            Some(Duration::from_secs(5)),
        )
        .await
        .unwrap();
        bus.set_value(
            &bus.keys().heartbeat("w2"),
            b"2",
            Some(Duration::from_millis(50)),
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        let beats = bus.scan_values(&bus.keys().heartbeats()).await.unwrap();
        assert_eq!(
            beats,
            vec![(bus.keys().heartbeat("w1"), b"1".to_vec())],
            "{}",
            bus.kind()
        );
        assert_eq!(bus.get_value(&bus.keys().assignment()).await.unwrap(), None);
        assert_eq!(
            bus.incr("counter", Duration::from_secs(5)).await.unwrap(),
            1
        );
        assert_eq!(
            bus.incr("counter", Duration::from_secs(5)).await.unwrap(),
            2
        );
    }
}

#[tokio::test]
async fn configuration_counter_reads_back_and_events_arrive() {
    for bus in buses().await {
        assert_eq!(crate::events::config_version(&*bus).await.unwrap(), 0);
        let mut sub = bus.subscribe(&bus.keys().config_channel()).await.unwrap();
        let tenant = uuid::Uuid::now_v7();
        crate::events::config_changed(&*bus, Some(tenant))
            .await
            .unwrap();
        crate::events::config_changed(&*bus, None).await.unwrap();
        assert_eq!(
            crate::events::config_version(&*bus).await.unwrap(),
            2,
            "{}",
            bus.kind()
        );
        let first: crate::events::ConfigChanged = serde_json::from_slice(
            &tokio::time::timeout(Duration::from_secs(5), sub.recv())
                .await
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(first.tenant, Some(tenant));
    }
}
