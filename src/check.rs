//! `stellar-monitor check <dir>`: each file's verdict, then a summary.

use std::fmt::Write as _;
use std::path::Path;

use monitor::config::{FileVerdict, load_dir};

/// The report text and whether every file is valid.
pub fn check(dir: &Path) -> (String, bool) {
    let set = load_dir(dir);
    let mut out = String::new();
    let (mut ok, mut rejected) = (0, 0);
    for report in &set.reports {
        match &report.verdict {
            FileVerdict::Ok => {
                ok += 1;
                let _ = writeln!(out, "ok      {}", report.file);
            }
            FileVerdict::Rejected(problems) => {
                rejected += 1;
                let _ = writeln!(out, "error   {}", report.file);
                for p in problems {
                    let _ = writeln!(out, "          {}: {}", p.path, p.message);
                }
            }
        }
    }
    let _ = writeln!(out, "{} files: {ok} ok, {rejected} rejected", ok + rejected);
    (out, rejected == 0)
}

/// `stellar-monitor test-monitor`: the matches, one JSON line each, then a summary.
pub async fn test_monitor(
    monitor_file: &Path,
    network_file: &Path,
    from: u64,
    to: Option<u64>,
) -> anyhow::Result<String> {
    use monitor::config::{Monitor, Network, Problems, parse_json, validate_monitor};
    let read =
        |p: &Path| std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()));
    let network: Network = parse_json(&network_file.display().to_string(), &read(network_file)?)
        .map_err(|p| anyhow::anyhow!("{p}"))?;
    let mut problems = Problems::new(network_file.display().to_string());
    network.validate(&mut problems);
    let monitor: Monitor = parse_json(&monitor_file.display().to_string(), &read(monitor_file)?)
        .map_err(|p| anyhow::anyhow!("{p}"))?;
    let mut monitor_problems = Problems::new(monitor_file.display().to_string());
    let kind = network.kind();
    validate_monitor(
        &monitor,
        &|slug| match (slug == network.slug, kind) {
            (true, Some(k)) => Ok(k),
            _ => Err(format!(
                "the network file is {:?}, not {slug:?}",
                network.slug
            )),
        },
        None,
        &mut monitor_problems,
    );
    problems.extend(monitor_problems.into_vec());
    let problems = problems.into_vec();
    if !problems.is_empty() {
        anyhow::bail!(
            "{}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    let to = to.unwrap_or(from);
    let matches = monitor::dry_run::run(&monitor, &network, from, to).await?;
    let mut out = String::new();
    for m in &matches {
        let _ = writeln!(out, "{}", serde_json::to_string(m)?);
    }
    let _ = writeln!(
        out,
        "{} match(es) in blocks {from}..={to} of {} (nothing was sent)",
        matches.len(),
        network.slug
    );
    Ok(out)
}
