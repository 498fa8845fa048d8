//! The database servers' own dump and restore programs, run as child processes: a consistent
//! dump of a live PostgreSQL or MySQL database is what `pg_dump` and `mariadb-dump` exist for,
//! and no crate does it (a copy made through queries would miss sequences, triggers and the
//! snapshot's consistency). The password travels in the programs' environment, never on their
//! command line, where any local user could read it.
use std::path::Path;
use std::process::Stdio;

use tokio::process::Command;

/// A server database's address, from its URL (`scheme://user[:password]@host[:port]/database`).
pub struct Server {
    pub user: String,
    pub password: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    pub database: String,
    /// What followed `?`, passed on to libpq (PostgreSQL: `sslmode=…`).
    pub query: Option<String>,
}

impl Server {
    pub fn parse(url: &str) -> anyhow::Result<Server> {
        let rest = url
            .split_once("://")
            .map(|(_, rest)| rest)
            .ok_or_else(|| anyhow::anyhow!("DATABASE_URL has no scheme"))?;
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query.to_owned())),
            None => (rest, None),
        };
        let (authority, database) = rest
            .split_once('/')
            .ok_or_else(|| anyhow::anyhow!("DATABASE_URL names no database"))?;
        let (credentials, address) = authority.rsplit_once('@').unwrap_or(("", authority));
        let (user, password) = match credentials.split_once(':') {
            Some((user, password)) => (user, Some(decode(password))),
            None => (credentials, None),
        };
        // `[::1]:3306` or `host:3306`, the port optional.
        let (host, port) = match address.strip_prefix('[') {
            Some(bracketed) => {
                let (host, port) = bracketed
                    .split_once(']')
                    .ok_or_else(|| anyhow::anyhow!("DATABASE_URL has a bad host"))?;
                (host, port.strip_prefix(':'))
            }
            None => match address.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (address, None),
            },
        };
        let port = port
            .map(str::parse::<u16>)
            .transpose()
            .map_err(|_| anyhow::anyhow!("DATABASE_URL has a bad port"))?;
        anyhow::ensure!(!database.is_empty(), "DATABASE_URL names no database");
        Ok(Server {
            user: decode(user),
            password,
            host: host.to_owned(),
            port,
            database: decode(database),
            query,
        })
    }

    /// libpq's connection URI without the password (which goes in `PGPASSWORD`).
    fn postgres_uri(&self) -> String {
        let mut uri = format!("postgresql://{}@{}", encode(&self.user), self.host);
        if let Some(port) = self.port {
            uri.push_str(&format!(":{port}"));
        }
        uri.push('/');
        uri.push_str(&encode(&self.database));
        if let Some(query) = &self.query {
            uri.push('?');
            uri.push_str(query);
        }
        uri
    }

    /// The mysql/mariadb clients' connection options (the password goes in `MYSQL_PWD`).
    fn mysql_options(&self) -> Vec<String> {
        let mut options = vec![format!("--host={}", self.host)];
        if let Some(port) = self.port {
            options.push(format!("--port={port}"));
        }
        if !self.user.is_empty() {
            options.push(format!("--user={}", self.user));
        }
        options
    }
}

/// `%XX` escapes of a URL part decoded (a password may hold any character).
fn decode(part: &str) -> String {
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = part
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn encode(part: &str) -> String {
    part.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The first of `names` found on PATH.
fn program(names: &[&str]) -> anyhow::Result<std::path::PathBuf> {
    program_in(names, &std::env::var_os("PATH").unwrap_or_default())
}

fn program_in(names: &[&str], path: &std::ffi::OsStr) -> anyhow::Result<std::path::PathBuf> {
    for name in names {
        for dir in std::env::split_paths(path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    anyhow::bail!(
        "{} is needed and was not found on PATH: install the database's client tools",
        names.join(" or ")
    )
}

/// Runs `command` to its end; an error with what it wrote to stderr if it failed.
async fn run(mut command: Command, what: &str) -> anyhow::Result<()> {
    command.stdout(Stdio::null()).stderr(Stdio::piped());
    let output = command.output().await?;
    anyhow::ensure!(
        output.status.success(),
        "{what} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(())
}

fn with_password(command: &mut Command, server: &Server, variable: &str) {
    if let Some(password) = &server.password {
        command.env(variable, password);
    }
}

/// `pg_dump`'s custom format: compressed, and restored table by table by `pg_restore`.
pub async fn pg_dump(server: &Server, target: &Path) -> anyhow::Result<()> {
    let mut command = Command::new(program(&["pg_dump"])?);
    command
        .arg("--format=custom")
        .arg("--no-owner")
        .arg("--no-privileges")
        .arg(format!("--file={}", target.display()))
        .arg(format!("--dbname={}", server.postgres_uri()));
    with_password(&mut command, server, "PGPASSWORD");
    run(command, "pg_dump").await
}

pub async fn pg_restore(server: &Server, source: &Path) -> anyhow::Result<()> {
    let mut command = Command::new(program(&["pg_restore"])?);
    command
        .arg("--no-owner")
        .arg("--no-privileges")
        .arg("--exit-on-error")
        .arg("--single-transaction")
        .arg(format!("--dbname={}", server.postgres_uri()))
        .arg(source);
    with_password(&mut command, server, "PGPASSWORD");
    run(command, "pg_restore").await
}

/// One transaction's consistent view of every InnoDB table (`--single-transaction`), with the
/// triggers, as SQL text.
pub async fn mysql_dump(server: &Server, target: &Path) -> anyhow::Result<()> {
    let mut command = Command::new(program(&["mariadb-dump", "mysqldump"])?);
    command
        .args(server.mysql_options())
        .arg("--single-transaction")
        .arg("--triggers")
        .arg("--routines")
        .arg("--hex-blob")
        .arg("--default-character-set=utf8mb4")
        .arg(format!("--result-file={}", target.display()))
        .arg(&server.database);
    with_password(&mut command, server, "MYSQL_PWD");
    run(command, "mariadb-dump").await
}

pub async fn mysql_restore(server: &Server, source: &Path) -> anyhow::Result<()> {
    let mut command = Command::new(program(&["mariadb", "mysql"])?);
    command
        .args(server.mysql_options())
        .arg("--default-character-set=utf8mb4")
        .arg(&server.database)
        .stdin(std::fs::File::open(source)?);
    with_password(&mut command, server, "MYSQL_PWD");
    run(command, "mariadb").await
}

#[cfg(test)]
mod tests {
    use super::{Server, program_in};

    #[test]
    fn a_missing_tool_is_named() {
        let empty = tempfile::tempdir().expect("temp dir");
        let error = program_in(&["mariadb-dump", "mysqldump"], empty.path().as_os_str())
            .expect_err("nothing there");
        assert_eq!(
            error.to_string(),
            "mariadb-dump or mysqldump is needed and was not found on PATH: install the \
             database's client tools"
        );
    }

    #[test]
    fn urls_give_the_tools_their_options_and_keep_the_password_apart() {
        let server = Server::parse(
            "postgres://app:p%40ss:w@db.internal:6432/clinic%20graph?sslmode=require",
        )
        .expect("parses");
        assert_eq!(server.password.as_deref(), Some("p@ss:w"));
        assert_eq!(
            server.postgres_uri(),
            "postgresql://app@db.internal:6432/clinic%20graph?sslmode=require"
        );
        let server = Server::parse("mysql://root@127.0.0.1/clinicgraph").expect("parses");
        assert_eq!(server.password, None);
        assert_eq!(server.mysql_options(), ["--host=127.0.0.1", "--user=root"]);
        assert_eq!(server.database, "clinicgraph");
        assert!(Server::parse("mysql://root@127.0.0.1/").is_err());
        assert!(Server::parse("mysql://root@127.0.0.1:port/x").is_err());
    }
}
