//! The keyring of health data at rest (`core::sealing`): from `DATA_KEYS`, or from the file
//! `DATA_KEYS_FILE` names (a secret store's mounted file, say). Required in production; in
//! development one key is made once and kept in the data folder, beside the database it
//! opens, so `cargo run` works on a bare machine and its data survives restarts.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::ExposeSecret;

use super::Reader;
use crate::core::sealing::DataKeys;

pub const FILE_NAME: &str = "data-keys";

/// The keyring as configured, or `None` when none was (development and tests only).
pub(super) fn read(r: &mut Reader<'_>, production: bool) -> Option<Arc<DataKeys>> {
    let (source, text) = match (r.raw("DATA_KEYS"), r.raw("DATA_KEYS_FILE")) {
        (Some(_), Some(_)) => {
            r.problems
                .push("DATA_KEYS and DATA_KEYS_FILE: set one, not both".into());
            return None;
        }
        (Some(text), None) => ("DATA_KEYS", text),
        (None, Some(path)) => match std::fs::read_to_string(&path) {
            Ok(text) => ("DATA_KEYS_FILE", text),
            Err(error) => {
                r.problems
                    .push(format!("DATA_KEYS_FILE: cannot read {path}: {error}"));
                return None;
            }
        },
        (None, None) => {
            if production {
                r.problems.push(
                    "DATA_KEYS: required in production (the keys that encrypt health data; \
                     see the README's \"Encryption at rest\")"
                        .into(),
                );
            }
            return None;
        }
    };
    match DataKeys::parse(&text) {
        Ok(keys) => Some(Arc::new(keys)),
        Err(problem) => {
            r.problems.push(format!("{source}: {problem}"));
            None
        }
    }
}

/// The development keyring kept at `path`, made there on first use; whether it was made now.
pub(super) fn load_or_create(path: &Path) -> anyhow::Result<(Arc<DataKeys>, bool)> {
    let made = !path.exists();
    let text =
        super::dev_secret::load_or_create(path, || DataKeys::generate_text("dev").to_string())?;
    let keys = DataKeys::parse(text.expose_secret())
        .map(Arc::new)
        .map_err(|problem| anyhow::anyhow!("{}: {problem}", path.display()))?;
    Ok((keys, made))
}

pub(super) fn path_in(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}
