//! Keeps a long-running task alive: a task that panics (a bug, never an expected error)
//! is logged, counted and started again after a pause, instead of silently leaving the
//! process without, say, one of its workers.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Pause before a panicked task is started again.
const RESTART_AFTER: Duration = Duration::from_secs(1);

/// Runs `make()` until it returns normally (on shutdown), restarting it after a panic.
pub fn supervise<F, Fut>(name: String, shutdown: CancellationToken, make: F) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    // The series exists from the start: dashboards show 0, not "no data".
    metrics::counter!("stellar_monitor_task_restarts_total", "task" => name.clone()).increment(0);
    tokio::spawn(async move {
        loop {
            match tokio::spawn(make()).await {
                Ok(()) => return,
                Err(e) if e.is_panic() => {
                    tracing::error!(task = %name, "task panicked; restarting it");
                    metrics::counter!("stellar_monitor_task_restarts_total", "task" => name.clone())
                        .increment(1);
                }
                Err(_) => return,
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(RESTART_AFTER) => {}
            }
        }
    })
}
