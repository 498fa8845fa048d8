//! The development signing secret, kept in the data folder so that a token pasted into
//! GraphiQL still works after `cargo run` restarts. Never used in production, where
//! `JWT_SECRET` is required.
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use secrecy::SecretString;

use super::MIN_SECRET_BYTES;

pub const FILE_NAME: &str = "jwt-secret";

/// The secret in `path`, or a new one from `generate` written there (readable by the owner
/// only).
pub fn load_or_create(path: &Path, generate: fn() -> String) -> anyhow::Result<SecretString> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let secret = text.trim();
            anyhow::ensure!(
                secret.len() >= MIN_SECRET_BYTES,
                "{}: the development secret must be at least {MIN_SECRET_BYTES} bytes",
                path.display()
            );
            return Ok(SecretString::from(secret.to_owned()));
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(error).with_context(|| format!("reading {}", path.display()));
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let secret = generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(secret.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(SecretString::from(secret))
        }
        // Another process made it first: use theirs.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            load_or_create(path, generate)
        }
        Err(error) => Err(error).with_context(|| format!("creating {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::load_or_create;

    #[test]
    fn made_once_then_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("data").join(super::FILE_NAME);
        let first = load_or_create(&path, || "a".repeat(40)).expect("made");
        let again = load_or_create(&path, || "b".repeat(40)).expect("kept");
        assert_eq!(first.expose_secret(), again.expose_secret());
        std::fs::write(&path, "short").expect("write");
        assert!(load_or_create(&path, || "c".repeat(40)).is_err());
    }
}
