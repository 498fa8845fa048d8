//! Where appointment emails go: an SMTP server, or (without one) .eml files in a folder.
use std::path::{Path, PathBuf};

use secrecy::SecretString;

use super::Reader;

#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `smtp://host:port`, `smtps://user:password@host`; `None`: the outbox folder.
    pub smtp_url: Option<SecretString>,
    /// The sender's address; the clinic's name is shown as the sender's name.
    pub from: lettre::Address,
    pub outbox_dir: PathBuf,
}

pub(super) fn read(r: &mut Reader<'_>, data_dir: &Path) -> MailConfig {
    let smtp_url = r.raw("SMTP_URL").filter(|url| !url.is_empty());
    if let Some(url) = &smtp_url {
        // The transport is built again by the workers; here only to refuse a bad URL at start.
        if lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url).is_err() {
            r.problems
                .push("SMTP_URL: not an smtp:// or smtps:// URL".into());
        }
    }
    let from = r
        .raw("MAIL_FROM")
        .unwrap_or_else(|| "clinicgraph@localhost".to_owned());
    let from = from.parse().unwrap_or_else(|_| {
        r.problems
            .push("MAIL_FROM: must be an email address (name@domain)".into());
        lettre::Address::new("clinicgraph", "localhost").expect("a valid default address")
    });
    MailConfig {
        smtp_url: smtp_url.map(SecretString::from),
        from,
        outbox_dir: r
            .raw("OUTBOX_DIR")
            .map_or_else(|| data_dir.join("outbox"), PathBuf::from),
    }
}
