//! Emails to patients: written from the templates in `templates/email/` (compiled into the
//! binary, so every deployment has them), then sent over SMTP or, without an SMTP server,
//! written as .eml files to the outbox folder.
use std::path::PathBuf;
use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use chrono_tz::Tz;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::modules::job::model::Notice;

static TEMPLATES: LazyLock<minijinja::Environment<'static>> = LazyLock::new(|| {
    let mut templates = minijinja::Environment::new();
    for (notice, source) in [
        (
            Notice::Scheduled,
            include_str!("../../templates/email/appointment_scheduled.txt"),
        ),
        (
            Notice::Rescheduled,
            include_str!("../../templates/email/appointment_rescheduled.txt"),
        ),
        (
            Notice::Cancelled,
            include_str!("../../templates/email/appointment_cancelled.txt"),
        ),
        (
            Notice::Reminder,
            include_str!("../../templates/email/appointment_reminder.txt"),
        ),
    ] {
        // The sources are compiled in; a unit test renders every one.
        if let Err(error) = templates.add_template(notice.name(), source) {
            tracing::error!(%error, template = notice.name(), "email template does not parse");
        }
    }
    templates
});

/// What an appointment email says, before it is put into words.
pub struct Facts<'a> {
    pub clinic: &'a str,
    /// The clinic's IANA time zone ("Europe/London"); an unknown one is read as UTC.
    pub timezone: &'a str,
    pub patient: &'a str,
    pub doctor: &'a str,
    pub starts_at: NaiveDateTime,
    pub minutes: i32,
}

#[derive(Serialize)]
struct Values<'a> {
    clinic: &'a str,
    patient: &'a str,
    doctor: &'a str,
    /// "Thursday 15 July 2027 at 10:30 BST", in the clinic's time.
    starts: String,
    /// "Thursday 15 July".
    day: String,
    minutes: i32,
}

/// A rendered email.
#[derive(Debug, PartialEq, Eq)]
pub struct Letter {
    pub subject: String,
    pub body: String,
}

/// Renders `notice`. A template's first line is `Subject: …`; the body follows a blank line.
pub fn write(notice: Notice, facts: &Facts<'_>) -> anyhow::Result<Letter> {
    let zone: Tz = facts.timezone.parse().unwrap_or(Tz::UTC);
    let local = facts.starts_at.and_utc().with_timezone(&zone);
    let values = Values {
        clinic: facts.clinic,
        patient: facts.patient,
        doctor: facts.doctor,
        starts: local.format("%A %-d %B %Y at %H:%M %Z").to_string(),
        day: local.format("%A %-d %B").to_string(),
        minutes: facts.minutes,
    };
    let text = TEMPLATES.get_template(notice.name())?.render(values)?;
    let (head, body) = text
        .split_once("\n\n")
        .ok_or_else(|| anyhow::anyhow!("template {} has no body", notice.name()))?;
    let subject = head
        .strip_prefix("Subject: ")
        .ok_or_else(|| anyhow::anyhow!("template {} has no subject line", notice.name()))?;
    Ok(Letter {
        subject: subject.trim().to_owned(),
        body: body.trim_start().to_owned(),
    })
}

/// The message to send: from the clinic (by name, at the service's address) to the patient.
/// Its Message-ID comes from the job, so a job run twice sends the same message, which mail
/// clients show once.
pub fn message(
    letter: Letter,
    from: (&str, &Address),
    to: (&str, &str),
    job_id: i64,
) -> anyhow::Result<Message> {
    let recipient: Address =
        to.1.parse()
            .map_err(|_| anyhow::anyhow!("the patient's email address is not deliverable"))?;
    Ok(Message::builder()
        .from(Mailbox::new(Some(from.0.to_owned()), from.1.clone()))
        .to(Mailbox::new(Some(to.0.to_owned()), recipient))
        .subject(letter.subject)
        .message_id(Some(format!(
            "<appointment-email-{job_id}@{}>",
            from.1.domain()
        )))
        .header(ContentType::TEXT_PLAIN)
        .body(letter.body)?)
}

/// Delivers messages. A trait so jobs are tested without a mail server.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Delivers `message`, known as `name` (unique per job); says how ("SMTP", "OUTBOX").
    async fn deliver(&self, name: &str, message: Message) -> anyhow::Result<&'static str>;
}

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl SmtpMailer {
    /// `url`: `smtp://host:port` (STARTTLS when offered), `smtps://…`, with
    /// `user:password@` when the server wants a login.
    pub fn new(url: &SecretString) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
            .map_err(|e| anyhow::anyhow!("SMTP_URL: {e}"))?
            .build();
        Ok(Self { transport })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn deliver(&self, _name: &str, message: Message) -> anyhow::Result<&'static str> {
        self.transport.send(message).await.map_err(|error| {
            // The server's own words can quote the recipient: keep only the code.
            match error.status() {
                Some(code) => anyhow::anyhow!("the SMTP server refused the message ({code})"),
                None if error.is_timeout() => anyhow::anyhow!("the SMTP server timed out"),
                None => anyhow::anyhow!("could not talk to the SMTP server"),
            }
        })?;
        Ok("SMTP")
    }
}

/// Without SMTP: each message a `.eml` file, for a developer to open in a mail program.
pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }
}

#[async_trait]
impl Mailer for Outbox {
    async fn deliver(&self, name: &str, message: Message) -> anyhow::Result<&'static str> {
        let path = self.dir.join(format!("{name}.eml"));
        let partial = path.with_extension("partial");
        tokio::fs::create_dir_all(&self.dir).await?;
        // Whole or not at all; a job run twice replaces its own file.
        tokio::fs::write(&partial, message.formatted()).await?;
        tokio::fs::rename(&partial, &path).await?;
        tracing::info!(file = %path.display(), "email written to the outbox (no SMTP_URL)");
        Ok("OUTBOX")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(timezone: &str) -> Facts<'_> {
        Facts {
            clinic: "Riverside Clinic",
            timezone,
            patient: "Zoë Adams",
            doctor: "Dr. Grey",
            starts_at: chrono::NaiveDate::from_ymd_opt(2027, 7, 15)
                .and_then(|d| d.and_hms_opt(9, 30, 0))
                .expect("a time"),
            minutes: 30,
        }
    }

    #[test]
    fn every_template_renders_with_the_clinics_local_time() {
        for notice in [
            Notice::Scheduled,
            Notice::Rescheduled,
            Notice::Cancelled,
            Notice::Reminder,
        ] {
            let letter = write(notice, &facts("Europe/London")).expect("renders");
            assert!(letter.subject.contains("Riverside Clinic"), "{letter:?}");
            assert!(letter.body.starts_with("Dear Zoë Adams,"), "{letter:?}");
            // 09:30 UTC is 10:30 in London in July (BST).
            assert!(
                letter.body.contains("Thursday 15 July 2027 at 10:30 BST"),
                "{letter:?}"
            );
        }
        let letter = write(Notice::Scheduled, &facts("America/New_York")).expect("renders");
        assert!(letter.body.contains("at 05:30 EDT"), "{letter:?}");
    }

    #[test]
    fn an_unknown_time_zone_is_read_as_utc() {
        let letter = write(Notice::Scheduled, &facts("Mars/Olympus")).expect("renders");
        assert!(letter.body.contains("at 09:30 UTC"), "{letter:?}");
    }

    #[test]
    fn a_patient_address_that_cannot_be_delivered_to_is_an_error_not_a_panic() {
        let from: Address = "clinic@example.org".parse().expect("address");
        let letter = write(Notice::Scheduled, &facts("UTC")).expect("renders");
        let sent = message(letter, ("Riverside", &from), ("Zoë", "not an address"), 1);
        assert!(sent.is_err());
    }
}
