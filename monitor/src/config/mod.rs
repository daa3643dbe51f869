//! OZ Monitor's configuration files: networks, monitors and triggers, their validation
//! (every problem, with file, JSON path and reason), and loading a whole directory with
//! its cross-references.

mod dir;
mod monitor;
mod network;
mod problem;
mod retry;
mod secret;
mod trigger;

#[cfg(test)]
mod tests;

pub use dir::{ConfigSet, FileReport, FileVerdict, load_dir};
pub use monitor::*;
pub use network::*;
pub use problem::{Problem, Problems, from_value, parse_json};
pub use retry::{Jitter, RetryPolicy};
pub use secret::SecretValue;
pub use trigger::*;

use std::path::Path;
use std::sync::Arc;

/// Validates a monitor in full for the network types of the networks it names:
/// common checks plus compiling it for each chain (addresses, contract specs,
/// signatures, expressions). `network_type` maps a slug to its type, or says why the
/// network cannot be used.
pub fn validate_monitor(
    monitor: &Monitor,
    network_type: &dyn Fn(&str) -> Result<NetworkType, String>,
    config_dir: Option<&Path>,
    problems: &mut Problems,
) {
    monitor.validate_common(config_dir, problems);
    let mut kinds = Vec::new();
    for (i, slug) in monitor.networks.iter().enumerate() {
        match network_type(slug) {
            Ok(kind) if !kinds.contains(&kind) => kinds.push(kind),
            Ok(_) => {}
            Err(why) => problems.add(format!("$.networks[{i}]"), why),
        }
    }
    let shared = Arc::new(monitor.clone());
    for kind in kinds {
        let result = match kind {
            NetworkType::Evm => crate::evm::EvmMonitor::compile(shared.clone()).map(drop),
            NetworkType::Stellar => {
                crate::stellar::StellarMonitor::compile(shared.clone()).map(drop)
            }
        };
        if let Err(found) = result {
            let file = problems.file().to_owned();
            problems.extend(found.into_iter().map(|p| Problem {
                file: file.clone(),
                ..p
            }));
        }
    }
}
