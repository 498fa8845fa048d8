//! Eager and plain execution answer alike: every document of `operations/` and every example of
//! the README, as every role and anonymously, against two servers on copies of the same demo
//! data, one with the default `GRAPHQL_EXECUTION` (eager) and one with `plain`
//! (async-graphql's own execution, none of `graphql::engine`). Both get the same requests in
//! the same order, so their data stay the same; an answer that differs is a bug of the fast
//! path, or an async-graphql release that changed what it relies on.
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use async_graphql::parser::types::OperationType;
use clinicgraph::core::ids::{NodeType, encode};
use clinicgraph::seed::{DEMO_ACCOUNTS, DEMO_PASSWORD};
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::server::Server;
use crate::helpers::socket::{Frame, RawSocket};
use crate::helpers::twins::Twins;
use crate::helpers::{Backend, at, demo_patient};
use crate::readme::readme_operations;

/// Suites ask far more often than a person would.
const ENV: [(&str, &str); 1] = [("RATE_LIMIT_PER_MINUTE", "0")];

/// Values of their moment: a request's id, a token or a signed link, when a token or a write
/// was made.
const VOLATILE: [&str; 11] = [
    "requestId",
    "accessToken",
    "refreshToken",
    "expiresAt",
    "refreshExpiresAt",
    "idleExpiresAt",
    "lastUsedAt",
    "updatedAt",
    "createdAt",
    "finishedAt",
    "url",
];

/// How long a subscriber waits for more events once the change that causes them was made.
const QUIET: Duration = Duration::from_millis(1500);

/// How long the answers to a query may differ while background jobs catch up.
const SETTLE: Duration = Duration::from_secs(15);

/// A job's events end within this.
const JOB_WAIT: Duration = Duration::from_secs(60);

/// The documents of `operations/`, by file name.
fn operations() -> Vec<(String, String)> {
    let dir = format!("{}/operations", env!("CARGO_MANIFEST_DIR"));
    let mut documents: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|entry| entry.expect("a file").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "graphql"))
        .map(|path| {
            let name = path
                .file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&path).expect("a document");
            (name, text)
        })
        .collect();
    documents.sort();
    documents
}

/// An answer as compared: the values of [`VOLATILE`] replaced, errors in a fixed order
/// (async-graphql reports them as fields finish), and each object's keys sorted. async-graphql's
/// own execution sends an object's keys in the order its fields finish, the eager one in the
/// order of the selection, as the GraphQL spec asks (`graphql::eager`'s tests hold it to that).
fn comparable(status: u16, mut body: Value) -> String {
    without_volatile(&mut body);
    if let Some(errors) = body.get_mut("errors").and_then(Value::as_array_mut) {
        errors.sort_by_key(Value::to_string);
    }
    let answer = sorted(json!({ "status": status, "body": body }));
    serde_json::to_string_pretty(&answer).expect("JSON")
}

fn without_volatile(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for (key, value) in object.iter_mut() {
                if VOLATILE.contains(&key.as_str()) && value.is_string() {
                    *value = json!("<volatile>");
                } else {
                    without_volatile(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(without_volatile),
        _ => {}
    }
}

fn sorted(value: Value) -> Value {
    match value {
        Value::Object(object) => {
            let mut entries: Vec<(String, Value)> = object.into_iter().collect();
            entries.sort_by(|(a, _), (b, _)| a.cmp(b));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| (key, sorted(value)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// Whether `document` only has queries, which may be asked again.
fn only_reads(document: &str) -> bool {
    async_graphql::parser::parse_query(document).is_ok_and(|document| {
        document
            .operations
            .iter()
            .all(|(_, operation)| operation.node.ty == OperationType::Query)
    })
}

/// Who calls: a demo account's email, or `None` for no token.
type Caller = Option<&'static str>;

/// The two servers, the tokens of every demo account on each, and what was compared.
struct Pair {
    twins: Twins,
    /// `(account, token on the eager server, token on the plain one)`.
    tokens: Vec<(&'static str, String, String)>,
    /// Documents that were run, for the check that none was left out.
    ran: BTreeSet<String>,
    compared: usize,
    /// Of those, answers with data and no error: the comparison is not one of refusals only.
    with_data: usize,
}

impl Pair {
    async fn start(backend: Backend) -> Option<Pair> {
        let plain = [ENV[0], ("GRAPHQL_EXECUTION", "plain")];
        Some(Pair {
            twins: Twins::start(backend, &ENV, &plain).await?,
            tokens: Vec::new(),
            ran: BTreeSet::new(),
            compared: 0,
            with_data: 0,
        })
    }

    fn eager(&self) -> &Server {
        &self.twins.first
    }

    fn plain(&self) -> &Server {
        &self.twins.second
    }

    /// Anonymous, then every demo account.
    fn callers(&self) -> Vec<Caller> {
        std::iter::once(None)
            .chain(DEMO_ACCOUNTS.iter().map(|(email, ..)| Some(*email)))
            .collect()
    }

    fn token(&self, caller: Caller, plain: bool) -> Option<&str> {
        let email = caller?;
        let (_, eager_token, plain_token) = self
            .tokens
            .iter()
            .find(|(account, ..)| *account == email)
            .unwrap_or_else(|| panic!("no token of {email}"));
        Some(if plain { plain_token } else { eager_token })
    }

    /// Runs `query` as `caller` on both servers and checks that the answers are the same;
    /// returns the eager server's. A query is asked again while the answers differ, for a
    /// while: background jobs (emails, reports) run on each server in their own time.
    async fn same(&mut self, caller: Caller, query: &str, variables: Value) -> Value {
        let deadline = Instant::now() + SETTLE;
        loop {
            let (eager, plain) = tokio::join!(
                self.eager()
                    .gql(self.token(caller, false), query, variables.clone()),
                self.plain()
                    .gql(self.token(caller, true), query, variables.clone()),
            );
            let (eager_status, _, eager_body) = eager;
            let (plain_status, _, plain_body) = plain;
            let (left, right) = (
                comparable(eager_status, eager_body.clone()),
                comparable(plain_status, plain_body),
            );
            if left == right {
                self.compared += 1;
                if eager_body["data"].is_object() && eager_body.get("errors").is_none() {
                    self.with_data += 1;
                }
                return eager_body;
            }
            assert!(
                only_reads(query) && Instant::now() < deadline,
                "eager and plain differ as {caller:?} for\n{query}\nvariables {variables}\n\
                 eager: {left}\nplain: {right}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Runs `query` with each of `variables` as every caller.
    async fn as_everyone(&mut self, query: &str, variables: &[Value]) {
        for variables in variables {
            for caller in self.callers() {
                self.same(caller, query, variables.clone()).await;
            }
        }
    }

    /// Runs a subscription as every caller on both servers, makes `change` (a mutation run as
    /// the admin on both), and checks that every subscriber got the same frames on both.
    async fn subscription_as_everyone(
        &mut self,
        query: &str,
        variables: Value,
        change: (&str, Value),
    ) {
        let mut sockets = Vec::new();
        for caller in self.callers() {
            for plain in [false, true] {
                let server = if plain { self.plain() } else { self.eager() };
                let socket = subscribed(server, self.token(caller, plain), query, &variables).await;
                sockets.push((caller, plain, socket));
            }
        }
        self.same(Some(DEMO_ACCOUNTS[0].0), change.0, change.1)
            .await;
        let received = join_all(sockets.into_iter().map(
            |(caller, plain, (early, socket))| async move {
                let mut frames = early;
                frames.extend(frames_until_quiet(socket, QUIET).await);
                (caller, plain, frames)
            },
        ))
        .await;
        assert!(
            received
                .iter()
                .any(|(.., frames)| frames.iter().any(|frame| frame["type"] == "next")),
            "nobody heard of the change: {received:?}"
        );
        for pair in received.chunks(2) {
            let [(caller, _, eager), (_, _, plain)] = pair else {
                unreachable!("one socket per server and caller")
            };
            let (left, right) = (frames_comparable(eager), frames_comparable(plain));
            assert!(
                left == right,
                "subscription frames differ as {caller:?} for\n{query}\neager: {left}\nplain: {right}"
            );
            self.compared += 1;
        }
    }
}

/// A socket with `query` subscribed as `token`, and the frames that came before the server
/// had read the subscription (an error, or an answer at once).
async fn subscribed(
    server: &Server,
    token: Option<&str>,
    query: &str,
    variables: &Value,
) -> (Vec<Value>, Option<RawSocket>) {
    let mut socket = RawSocket::open(&server.ws_url(), None)
        .await
        .expect("a socket");
    let Some(token) = token else {
        // Without a token the server closes the socket at `connection_init`.
        socket
            .send(json!({ "type": "connection_init", "payload": {} }))
            .await;
        return (vec![frame_value(socket.next_message().await)], None);
    };
    socket.init(token).await;
    socket
        .send(json!({
            "id": "1", "type": "subscribe",
            "payload": { "query": query, "variables": variables },
        }))
        .await;
    // The protocol does not acknowledge a subscription; the server answers a ping after it has
    // read what came before it on the socket.
    socket.send(json!({ "type": "ping" })).await;
    let mut early = Vec::new();
    loop {
        match socket.next_message().await {
            Frame::Json(message) if message["type"] == "pong" => return (early, Some(socket)),
            Frame::Json(message) => early.push(message),
            other => {
                early.push(frame_value(other));
                return (early, None);
            }
        }
    }
}

fn frame_value(frame: Frame) -> Value {
    match frame {
        Frame::Json(message) => message,
        other => json!(format!("{other:?}")),
    }
}

/// What a socket receives until it has been silent for `quiet`, or has ended.
async fn frames_until_quiet(socket: Option<RawSocket>, quiet: Duration) -> Vec<Value> {
    let Some(mut socket) = socket else {
        return Vec::new();
    };
    let mut frames = Vec::new();
    while let Some(frame) = socket.next_within(quiet).await {
        match frame {
            Frame::Ping => continue,
            Frame::Json(message) => frames.push(message),
            other => {
                frames.push(frame_value(other));
                break;
            }
        }
    }
    frames
}

fn frames_comparable(frames: &[Value]) -> String {
    let frames: Vec<String> = frames
        .iter()
        .map(|frame| comparable(0, frame.clone()))
        .collect();
    frames.join("\n")
}

/// A job's events as `token` sees them until the server completes the subscription: the
/// frames before the last `next` depend on when the subscriber looked (queued, running, at
/// what progress), so only the outcome is compared: the last event and how the stream ended.
async fn job_outcome(server: &Server, token: Option<&str>, query: &str, id: &str) -> Vec<Value> {
    let (mut frames, mut socket) = subscribed(server, token, query, &json!({ "id": id })).await;
    let ended = |frames: &[Value]| frames.iter().any(|frame| frame["type"] != "next");
    let deadline = Instant::now() + JOB_WAIT;
    while let Some(open) = socket.as_mut().filter(|_| !ended(&frames)) {
        let left = deadline.saturating_duration_since(Instant::now());
        match open.next_within(left).await {
            Some(Frame::Ping) => {}
            Some(frame) => frames.push(frame_value(frame)),
            None => panic!("the job's events did not end within {JOB_WAIT:?}: {frames:?}"),
        }
    }
    let last_event = frames.iter().rposition(|frame| frame["type"] == "next");
    match last_event {
        Some(last) => frames[last..].to_vec(),
        None => frames,
    }
}

async fn answers_are_the_same(backend: Backend) {
    let Some(mut pair) = Pair::start(backend).await else {
        return;
    };
    let documents = operations();
    let document = |name: &str| {
        documents
            .iter()
            .find(|(file, _)| file == name)
            .map(|(_, text)| text.clone())
            .unwrap_or_else(|| panic!("operations/{name} is gone"))
    };
    let doctor = encode(NodeType::Doctor, 1);

    // Signing in, with each account, and once with a wrong password.
    let login = document("login.graphql");
    pair.ran.insert("login.graphql".into());
    for (email, ..) in DEMO_ACCOUNTS {
        let variables = json!({ "email": email, "password": DEMO_PASSWORD });
        let (eager, plain) = tokio::join!(
            pair.eager().gql(None, &login, variables.clone()),
            pair.plain().gql(None, &login, variables.clone()),
        );
        let token = |answer: &(u16, Option<String>, Value)| {
            answer.2["data"]["login"]["accessToken"]
                .as_str()
                .unwrap_or_else(|| panic!("{email} cannot sign in: {}", answer.2))
                .to_owned()
        };
        assert_eq!(
            comparable(eager.0, eager.2.clone()),
            comparable(plain.0, plain.2.clone())
        );
        pair.compared += 1;
        pair.tokens.push((email, token(&eager), token(&plain)));
    }
    pair.as_everyone(
        &login,
        &[json!({ "email": DEMO_ACCOUNTS[0].0, "password": "not the password" })],
    )
    .await;

    // The README's examples in order, as the account each names (the admin unless one is
    // named) and then as everyone else: the data change alike on both servers.
    for example in readme_operations() {
        let named = example
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("# as "))
            .map(str::trim)
            .unwrap_or(DEMO_ACCOUNTS[0].0);
        let named = DEMO_ACCOUNTS
            .iter()
            .map(|(email, ..)| *email)
            .find(|email| *email == named)
            .unwrap_or_else(|| panic!("the README names an account that is not seeded: {named}"));
        pair.same(Some(named), &example, json!({})).await;
        for caller in pair.callers() {
            if caller != Some(named) {
                pair.same(caller, &example, json!({})).await;
            }
        }
    }

    // The documents of `operations/` with the values the client sends, some of them wrong.
    pair.ran.insert("patient-list.graphql".into());
    let list = document("patient-list.graphql");
    let first_page = pair
        .same(Some(DEMO_ACCOUNTS[0].0), &list, json!({ "first": 3 }))
        .await;
    let after = first_page["data"]["patients"]["pageInfo"]["endCursor"].clone();
    pair.as_everyone(
        &list,
        &[
            json!({}),
            json!({ "first": 3 }),
            json!({ "first": 3, "after": after }),
            json!({ "search": "zoe", "first": 5 }),
            json!({ "search": "nobody by this name" }),
            json!({ "first": 1000 }),
            json!({ "after": "not a cursor" }),
            // Of the wrong type: the eager server must not take them for validated.
            json!({ "first": "five" }),
            json!({ "search": ["zoe"] }),
        ],
    )
    .await;

    pair.ran.insert("patient-detail.graphql".into());
    pair.as_everyone(
        &document("patient-detail.graphql"),
        &[
            json!({ "id": demo_patient(1) }),
            json!({ "id": demo_patient(7) }),
            json!({ "id": demo_patient(999_999) }),
            json!({ "id": doctor }),
            json!({ "id": "not an id" }),
        ],
    )
    .await;

    pair.ran.insert("my-sessions.graphql".into());
    pair.as_everyone(
        &document("my-sessions.graphql"),
        &[json!({}), json!({ "first": 1 }), json!({ "first": -1 })],
    )
    .await;

    // Tokens that are not, or no longer, refresh tokens (a real one would be rotated on one
    // server only: its sessions are the pair's own).
    pair.ran.insert("refresh-session.graphql".into());
    pair.as_everyone(
        &document("refresh-session.graphql"),
        &[
            json!({ "refreshToken": "not-a-token" }),
            json!({ "refreshToken": "cgr1.1.1.AAAA" }),
            json!({}),
        ],
    )
    .await;

    pair.ran.insert("create-patient.graphql".into());
    let create = document("create-patient.graphql");
    for caller in pair.callers() {
        let email = format!("twins-{}@example.com", caller.unwrap_or("anonymous"));
        let input = json!({
            "name": "Ana Twin", "email": email, "phone": "555-010-2030",
            "bloodGroup": "O_NEG", "dateOfBirth": "1991-07-14",
        });
        pair.same(caller, &create, json!({ "input": input })).await;
    }
    pair.as_everyone(
        &create,
        &[
            json!({ "input": { "name": "", "email": "not an email", "phone": "x" } }),
            json!({ "input": { "name": "No Phone", "email": "nophone@example.com" } }),
            json!({ "input": { "name": "Z", "email": "z@example.com", "phone": "5550100001", "bloodGroup": "Z_POS" } }),
            json!({ "input": { "name": "Z", "email": "z@example.com", "phone": "5550100001", "age": 3 } }),
        ],
    )
    .await;

    pair.ran.insert("update-patient.graphql".into());
    pair.as_everyone(
        &document("update-patient.graphql"),
        &[
            json!({ "id": demo_patient(3), "input": { "phone": "5550102030", "bloodGroup": null } }),
            json!({ "id": demo_patient(3), "input": { "phone": null } }),
            json!({ "id": demo_patient(999_999), "input": { "name": "Nobody" } }),
        ],
    )
    .await;

    pair.ran.insert("schedule-appointment.graphql".into());
    let schedule = document("schedule-appointment.graphql");
    for (day, caller) in (400..).zip(pair.callers()) {
        let input = json!({
            "patientId": demo_patient(4), "doctorId": doctor,
            "scheduledAt": at(day, 10, 0), "durationMinutes": 30,
        });
        pair.same(caller, &schedule, json!({ "input": input }))
            .await;
    }
    // The same slot again, and a time in the past.
    pair.as_everyone(
        &schedule,
        &[
            json!({ "input": { "patientId": demo_patient(5), "doctorId": doctor, "scheduledAt": at(400, 10, 0), "durationMinutes": 30 } }),
            json!({ "input": { "patientId": demo_patient(5), "doctorId": doctor, "scheduledAt": at(-3, 10, 0), "durationMinutes": 30 } }),
        ],
    )
    .await;

    pair.ran.insert("clinic-report.graphql".into());
    let report = document("clinic-report.graphql");
    let job = pair
        .same(
            Some(DEMO_ACCOUNTS[0].0),
            &report,
            json!({ "from": "2035-01-01", "to": "2035-01-31" }),
        )
        .await;
    let job_id = job["data"]["clinicReport"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no report job: {job}"))
        .to_owned();
    pair.as_everyone(
        &report,
        &[json!({ "from": "2035-02-01", "to": "2035-01-01" })],
    )
    .await;

    // Subscriptions, over the WebSocket: each caller's frames, on both servers.
    pair.ran.insert("job-updated.graphql".into());
    let updates = document("job-updated.graphql");
    for caller in pair.callers() {
        let (eager, plain) = tokio::join!(
            job_outcome(pair.eager(), pair.token(caller, false), &updates, &job_id),
            job_outcome(pair.plain(), pair.token(caller, true), &updates, &job_id),
        );
        let (left, right) = (frames_comparable(&eager), frames_comparable(&plain));
        assert!(
            left == right,
            "jobUpdated differs as {caller:?}\neager: {left}\nplain: {right}"
        );
        if caller == Some(DEMO_ACCOUNTS[0].0) {
            let status = &eager[0]["payload"]["data"]["jobUpdated"]["status"];
            assert_eq!(status, "SUCCEEDED", "the report's events: {eager:?}");
        }
        pair.compared += 1;
    }

    pair.ran.insert("appointment-changed.graphql".into());
    let changes = document("appointment-changed.graphql");
    let book = |day: i64| {
        let input = json!({
            "patientId": demo_patient(1), "doctorId": doctor,
            "scheduledAt": at(day, 11, 0), "durationMinutes": 30,
        });
        (schedule.as_str(), json!({ "input": input }))
    };
    pair.subscription_as_everyone(&changes, json!({}), book(500))
        .await;
    pair.subscription_as_everyone(&changes, json!({ "doctorId": doctor }), book(501))
        .await;

    let left_out: Vec<&str> = documents
        .iter()
        .map(|(name, _)| name.as_str())
        .filter(|name| !pair.ran.contains(*name))
        .collect();
    assert!(
        left_out.is_empty(),
        "documents of operations/ this test does not run yet: {left_out:?}"
    );
    assert!(
        pair.compared > 200,
        "only {} answers compared",
        pair.compared
    );
    assert!(
        pair.with_data * 4 > pair.compared,
        "{} of {} answers have data",
        pair.with_data,
        pair.compared
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eager_and_plain_answer_alike_on_sqlite() {
    answers_are_the_same(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eager_and_plain_answer_alike_on_postgres() {
    answers_are_the_same(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eager_and_plain_answer_alike_on_mysql() {
    answers_are_the_same(Backend::Mysql).await;
}

/// The comparison sees a value, an item's place in a list, an error's code; not the moment
/// of a write, nor the order of an object's keys.
#[test]
fn the_comparison_sees_values_list_order_and_codes() {
    let answer = json!({ "data": { "a": [1, 2], "b": { "updatedAt": "2035-01-01T00:00:00Z" } } });
    for same in [
        json!({ "data": { "a": [1, 2], "b": { "updatedAt": "2036-01-01T00:00:00Z" } } }),
        json!({ "data": { "b": { "updatedAt": "2035-01-01T00:00:00Z" }, "a": [1, 2] } }),
    ] {
        assert_eq!(comparable(200, answer.clone()), comparable(200, same));
    }
    for different in [
        json!({ "data": { "a": [2, 1], "b": { "updatedAt": "2035-01-01T00:00:00Z" } } }),
        json!({ "data": { "a": [1, 3], "b": { "updatedAt": "2035-01-01T00:00:00Z" } } }),
        json!({ "data": { "a": [1, 2], "b": { "updatedAt": null } } }),
        json!({ "data": { "a": [1, 2], "b": null }, "errors": [{ "extensions": { "code": "FORBIDDEN" } }] }),
    ] {
        assert_ne!(comparable(200, answer.clone()), comparable(200, different));
    }
    assert_ne!(comparable(200, answer.clone()), comparable(400, answer));
    let errors = |codes: [&str; 2]| json!({ "errors": codes.map(|code| json!({ "extensions": { "code": code } })) });
    assert_eq!(
        comparable(200, errors(["A", "B"])),
        comparable(200, errors(["B", "A"]))
    );
    assert_ne!(
        comparable(200, errors(["A", "B"])),
        comparable(200, errors(["A", "C"]))
    );
}
