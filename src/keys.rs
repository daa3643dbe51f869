//! Key material: from the environment when set, else generated once and kept in the
//! data directory (readable by the owner only).

use std::path::Path;

use anyhow::{Context, Result, bail};
use base64::Engine as _;

use crate::config::SecurityArgs;

/// Shortest accepted JWT secret.
const MIN_JWT_SECRET: usize = 32;

fn load_or_create(dir: &Path, file: &str, make: impl FnOnce() -> String) -> Result<String> {
    let path = dir.join(file);
    if path.exists() {
        return Ok(std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?
            .trim()
            .to_owned());
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating data directory {}", dir.display()))?;
    let value = make();
    std::fs::write(&path, &value).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting {}", path.display()))?;
    }
    tracing::warn!(file = %path.display(), "generated a key; set it in the environment for a fleet");
    Ok(value)
}

/// The current JWT secret and the previous ones.
pub fn jwt_secrets(args: &SecurityArgs, data_dir: &Path) -> Result<(Vec<u8>, Vec<Vec<u8>>)> {
    let current = match &args.jwt_secret {
        Some(s) => s.clone(),
        None => load_or_create(data_dir, "jwt.key", graphql::auth::tokens::random_secret)?,
    };
    if current.len() < MIN_JWT_SECRET {
        bail!("JWT_SECRET must be at least {MIN_JWT_SECRET} characters");
    }
    let previous = args
        .jwt_previous_secrets
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| s.as_bytes().to_vec())
        .collect();
    Ok((current.into_bytes(), previous))
}

/// The 32-byte key sealing secrets at rest.
pub fn secrets_key(args: &SecurityArgs, data_dir: &Path) -> Result<Vec<u8>> {
    let text = match &args.secrets_key {
        Some(k) => k.clone(),
        None => load_or_create(
            data_dir,
            "secrets.key",
            graphql::secrets::Sealer::generate_key,
        )?,
    };
    let key = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .context("SECRETS_KEY is not base64")?;
    if key.len() != 32 {
        bail!(
            "SECRETS_KEY must be 32 bytes, base64 (got {} bytes)",
            key.len()
        );
    }
    Ok(key)
}
