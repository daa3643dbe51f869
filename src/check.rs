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
