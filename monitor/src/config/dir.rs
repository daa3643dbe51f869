//! Loading an OZ config directory (`networks/`, `monitors/`, `triggers/`): every file
//! parsed and validated on its own, then cross-references checked (a monitor's network
//! slugs and trigger keys), with a verdict per file.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::monitor::Monitor;
use super::network::{Network, NetworkType};
use super::problem::{Problem, Problems, parse_json};
use super::trigger::Trigger;
use super::validate_monitor;

/// What `check` says about one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileVerdict {
    Ok,
    Rejected(Vec<Problem>),
}

#[derive(Clone, Debug)]
pub struct FileReport {
    /// Relative to the config directory, e.g. `networks/ethereum_mainnet.json`.
    pub file: String,
    pub verdict: FileVerdict,
}

/// The valid part of a directory, plus a report on every file.
#[derive(Clone, Debug, Default)]
pub struct ConfigSet {
    pub networks: BTreeMap<String, Network>,
    pub monitors: Vec<(String, Monitor)>,
    /// Trigger key → trigger.
    pub triggers: BTreeMap<String, Trigger>,
    pub reports: Vec<FileReport>,
}

impl ConfigSet {
    pub fn is_valid(&self) -> bool {
        self.reports.iter().all(|r| r.verdict == FileVerdict::Ok)
    }

    pub fn problems(&self) -> impl Iterator<Item = &Problem> {
        self.reports.iter().flat_map(|r| match &r.verdict {
            FileVerdict::Ok => [].iter(),
            FileVerdict::Rejected(p) => p.iter(),
        })
    }
}

fn json_files(dir: &Path) -> Result<Vec<PathBuf>, std::io::Error> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    Ok(files)
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Reads one kind of file: returns (relative name, contents or read problem).
fn read_all(root: &Path, sub: &str) -> Vec<(String, Result<String, Problem>)> {
    let dir = root.join(sub);
    match json_files(&dir) {
        Ok(files) => files
            .into_iter()
            .map(|f| {
                let name = relative(root, &f);
                let text = std::fs::read_to_string(&f).map_err(|e| Problem {
                    file: name.clone(),
                    path: "$".to_owned(),
                    message: format!("cannot read file: {e}"),
                });
                (name, text)
            })
            .collect(),
        Err(e) => vec![(
            sub.to_owned(),
            Err(Problem {
                file: sub.to_owned(),
                path: "$".to_owned(),
                message: format!("cannot read directory: {e}"),
            }),
        )],
    }
}

/// Loads and validates the directory at `root`.
pub fn load_dir(root: &Path) -> ConfigSet {
    let mut set = ConfigSet::default();
    let mut verdicts: Vec<(String, Vec<Problem>)> = Vec::new();

    // Networks.
    let mut network_types: HashMap<String, NetworkType> = HashMap::new();
    let mut network_files: HashMap<String, String> = HashMap::new();
    // Slug → why a parsed network cannot be used, for monitors that name it.
    let mut rejected_networks: HashMap<String, String> = HashMap::new();
    for (file, text) in read_all(root, "networks") {
        let mut problems = Problems::new(&file);
        match text.and_then(|t| parse_json::<Network>(&file, &t)) {
            Ok(network) => {
                network.validate(&mut problems);
                let key = network.slug.to_lowercase();
                if let Some(other) = network_files.get(&key) {
                    problems.add(
                        "$.slug",
                        format!("slug {:?} is also used by {other}", network.slug),
                    );
                }
                if problems.is_empty() {
                    if let Some(kind) = network.kind() {
                        network_types.insert(network.slug.clone(), kind);
                    }
                    network_files.insert(key, file.clone());
                    set.networks.insert(network.slug.clone(), network);
                } else {
                    let why = match network.kind() {
                        None => format!("unsupported network type {:?}", network.network_type),
                        Some(_) => "it is invalid".to_owned(),
                    };
                    rejected_networks.insert(
                        network.slug.clone(),
                        format!("network {:?} is rejected ({file}: {why})", network.slug),
                    );
                }
            }
            Err(p) => problems.extend([p]),
        }
        verdicts.push((file, problems.into_vec()));
    }

    // Triggers: each file a map from key to trigger.
    let mut trigger_files: HashMap<String, String> = HashMap::new();
    let mut rejected_triggers: HashMap<String, String> = HashMap::new();
    for (file, text) in read_all(root, "triggers") {
        let mut problems = Problems::new(&file);
        match text.and_then(|t| parse_json::<BTreeMap<String, Trigger>>(&file, &t)) {
            Ok(map) => {
                let mut valid = Vec::new();
                for (key, trigger) in map {
                    let mut own = Problems::new(&file);
                    trigger.validate(&format!("$.{key}"), Some(root), &mut own);
                    if let Some(other) = trigger_files.get(&key.to_lowercase()) {
                        own.add(
                            format!("$.{key}"),
                            format!("trigger key {key:?} is also defined in {other}"),
                        );
                    }
                    if own.is_empty() {
                        valid.push((key, trigger));
                    } else {
                        problems.extend(own.into_vec());
                    }
                }
                // A file is accepted whole or not at all, so a monitor never silently
                // loses half its notifications.
                if problems.is_empty() {
                    for (key, trigger) in valid {
                        trigger_files.insert(key.to_lowercase(), file.clone());
                        set.triggers.insert(key, trigger);
                    }
                } else {
                    for (key, _) in valid {
                        rejected_triggers.insert(key, file.clone());
                    }
                    for p in problems.iter_paths() {
                        if let Some(key) = p.strip_prefix("$.").and_then(|r| r.split('.').next()) {
                            rejected_triggers.insert(key.to_owned(), file.clone());
                        }
                    }
                }
            }
            Err(p) => problems.extend([p]),
        }
        verdicts.push((file, problems.into_vec()));
    }

    // Monitors, validated against the valid networks and triggers.
    let mut monitor_names: HashMap<String, String> = HashMap::new();
    for (file, text) in read_all(root, "monitors") {
        let mut problems = Problems::new(&file);
        match text.and_then(|t| parse_json::<Monitor>(&file, &t)) {
            Ok(monitor) => {
                let network_type = |slug: &str| {
                    network_types.get(slug).copied().ok_or_else(|| {
                        rejected_networks.get(slug).cloned().unwrap_or_else(|| {
                            format!("no network with slug {slug:?} in networks/")
                        })
                    })
                };
                validate_monitor(&monitor, &network_type, Some(root), &mut problems);
                for (i, key) in monitor.triggers.iter().enumerate() {
                    if set.triggers.contains_key(key) {
                        continue;
                    }
                    let why = match rejected_triggers.get(key) {
                        Some(file) => format!("trigger {key:?} is rejected ({file})"),
                        None => format!("no trigger with key {key:?} in triggers/"),
                    };
                    problems.add(format!("$.triggers[{i}]"), why);
                }
                let name_key = monitor.name.to_lowercase();
                if let Some(other) = monitor_names.get(&name_key) {
                    problems.add(
                        "$.name",
                        format!("monitor name {:?} is also used by {other}", monitor.name),
                    );
                }
                if problems.is_empty() {
                    monitor_names.insert(name_key, file.clone());
                    set.monitors.push((file.clone(), monitor));
                }
            }
            Err(p) => problems.extend([p]),
        }
        verdicts.push((file, problems.into_vec()));
    }

    if verdicts.is_empty() {
        verdicts.push((
            relative(root, root),
            vec![Problem {
                file: String::new(),
                path: "$".to_owned(),
                message: format!(
                    "{} has no networks/, monitors/ or triggers/ JSON files",
                    root.display()
                ),
            }],
        ));
    }
    set.reports = verdicts
        .into_iter()
        .map(|(file, problems)| FileReport {
            file,
            verdict: if problems.is_empty() {
                FileVerdict::Ok
            } else {
                FileVerdict::Rejected(problems)
            },
        })
        .collect();
    set
}
