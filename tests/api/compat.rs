//! Access to the OpenZeppelin compatibility corpus in `../shared/compat/`, read by path
//! (never copied into the project). Tests using it skip, saying why, when it is absent.

use std::path::PathBuf;

/// The corpus folder, or `None` (after saying the test is skipped) when it is absent.
pub fn dir(test: &str) -> Option<PathBuf> {
    // `../shared/compat` beside the checkout, looked for up the tree so a clone placed
    // deeper (as CI does) still finds it.
    let dir = std::env::var_os("SM_COMPAT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            root.ancestors()
                .skip(1)
                .map(|a| a.join("shared/compat"))
                .find(|c| c.is_dir())
                .unwrap_or_else(|| root.join("../shared/compat"))
        });
    if dir.join("oz-config").is_dir() && dir.join("chain").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipping {test}: the compatibility corpus is not at {} (set SM_COMPAT_DIR)",
            dir.display()
        );
        None
    }
}

pub fn read_json(path: PathBuf) -> serde_json::Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Copies a directory tree (into a test's temporary directory).
pub fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
