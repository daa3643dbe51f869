//! The binary as an operator runs it: `serve` with no environment at all, restarts on
//! the same data directory, and clear one-line errors for what cannot work.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use entities::{tenants, users};
use sea_orm::{EntityTrait, PaginatorTrait};
use stellar_monitor::database::{self, Target};

const BIN: &str = env!("CARGO_BIN_EXE_stellar-monitor");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `stellar-monitor <args>` in `dir` with an empty environment (PATH aside).
fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd
}

fn wait_healthy(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(200) = status_of(&format!("127.0.0.1:{port}"), "/healthz") {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("serve did not become healthy on port {port}");
}

/// Sends SIGTERM and returns the exit output.
fn terminate(child: Child) -> Output {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait_with_output().unwrap()
}

/// The status code of a plain blocking `GET` (these tests run no async runtime).
fn status_of(host: &str, path: &str) -> std::io::Result<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(host)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0))
}

fn assert_one_clear_error(output: &Output, expected: &str) {
    assert!(!output.status.success(), "expected failure");
    assert_eq!(
        output.status.code(),
        Some(1),
        "a clean exit code, not a signal or panic"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one error line expected:\n{stderr}");
    assert!(
        errors[0].contains(expected),
        "{:?} should mention {expected:?}",
        errors[0]
    );
}

#[test]
fn serve_with_no_environment_answers_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");

    // First start: creates ./data, the admin and first tenant, prints the password once.
    let mut first = command(dir.path(), &["serve", "--listen", &listen])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_healthy(port);
    assert!(dir.path().join("data/stellar-monitor.db").exists());
    let stdout = first.stdout.take().unwrap();
    let banner: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .take_while(|l| !l.trim_start().starts_with("Tenant:"))
        .collect();
    let password = banner
        .iter()
        .find_map(|l| l.trim_start().strip_prefix("Password: "))
        .expect("generated password printed on first start")
        .trim()
        .to_owned();
    assert!(
        banner
            .iter()
            .any(|l| l.contains(&format!("http://{listen}/graphql")))
    );
    let out = terminate(first);
    assert!(
        out.status.success(),
        "SIGTERM stops serve cleanly: {:?}",
        out.status
    );

    // Second start on the same directory: nothing recreated, nothing printed again.
    let second = command(dir.path(), &["serve", "--listen", &listen])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_healthy(port);
    let out = terminate(second);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Password:"));

    // The data of the first start is intact: one admin, whose password is the one printed.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let target = Target::Sqlite(dir.path().join("data/stellar-monitor.db"));
        let db = database::connect(&target, 1).await.unwrap();
        let admins = users::Entity::find().all(&db).await.unwrap();
        assert_eq!(admins.len(), 1);
        assert!(admins[0].is_platform_admin);
        assert!(graphql::auth::password::verify(
            &password,
            &admins[0].password_hash
        ));
        assert_eq!(tenants::Entity::find().count(&db).await.unwrap(), 1);
    });
}

#[test]
fn a_corrupt_database_file_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::write(
        dir.path().join("data/stellar-monitor.db"),
        b"this is not an SQLite database, just some bytes that happen to be here....".repeat(20),
    )
    .unwrap();
    let out = command(dir.path(), &["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_one_clear_error(&out, "not a database");
}

#[test]
fn an_unwritable_data_directory_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file where the data directory's parent should be: nothing can be created
    // below it, whatever our privileges.
    std::fs::write(dir.path().join("blocker"), b"").unwrap();
    let out = command(
        dir.path(),
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            "blocker/data",
        ],
    )
    .output()
    .unwrap();
    assert_one_clear_error(&out, "creating data directory blocker/data");

    let out = command(
        dir.path(),
        &["serve", "--listen", "127.0.0.1:0", "--data-dir", "blocker"],
    )
    .output()
    .unwrap();
    assert_one_clear_error(&out, "is not a directory");
}

#[test]
fn unreachable_postgres_and_redis_are_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path(), &["serve", "--listen", "127.0.0.1:0"])
        .env(
            "DATABASE_URL",
            "postgres://sm_app:secret-pw@127.0.0.1:1/nowhere",
        )
        .output()
        .unwrap();
    assert_one_clear_error(
        &out,
        "opening PostgreSQL at postgres://sm_app:***@127.0.0.1:1/nowhere",
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("secret-pw"));

    let out = command(dir.path(), &["serve", "--listen", "127.0.0.1:0"])
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .output()
        .unwrap();
    assert_one_clear_error(&out, "connecting to the bus");

    let out = command(dir.path(), &["serve"])
        .env("DATABASE_URL", "mysql://somewhere/db")
        .output()
        .unwrap();
    assert_one_clear_error(&out, "DATABASE_URL must start with");
}

#[test]
fn migrate_applies_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let out = command(dir.path(), &["migrate"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("migrations applied"));
    }
}

#[test]
fn help_lists_every_setting_with_its_variable() {
    let out = command(Path::new("."), &["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "DATABASE_URL",
        "DATA_DIR",
        "REDIS_URL",
        "LISTEN_ADDR",
        "ADMIN_EMAIL",
        "ADMIN_PASSWORD",
        "LOG_FORMAT",
    ] {
        assert!(help.contains(var), "{var} missing from --help:\n{help}");
    }
}
