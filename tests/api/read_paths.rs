//! Every way to a record applies the same rules. Two small clinics are built; then, for every
//! role of the first (a PATIENT account linked to one patient among them) and for the second
//! clinic's ADMIN, each patient, appointment, prescription, doctor and clinic of both is read by
//! its root field, by `node`, through the root lists and their filters, and through every
//! nested edge that reaches it: one hop from each record read by id or by `node`, one and two
//! hops from each root list. Each answer is reduced, per record, to each field's value or error
//! code. A record's own root field is the reference: every other way must show the same records
//! with the same values and the same masked fields, refuse where it refuses with the same code,
//! and never show another clinic's record. The root fields themselves are held to the rules the
//! README and the schema state, so a way that agrees with a wrong root field still fails.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use clinicgraph::core::auth::Role;
use clinicgraph::core::ids::{self, NodeType};
use clinicgraph::modules::auth::service::NewAccount;
use clinicgraph::modules::clinic::model::NewClinic;
use clinicgraph::seed::DEMO_PASSWORD;
use serde_json::{Value, json};

use crate::helpers::{TestApp, at};
use crate::on_every_backend;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Patient,
    Appointment,
    Prescription,
    Doctor,
    Clinic,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// A connection: `field(first: …) { totalCount nodes { … } }`.
    Page,
    /// A plain list.
    List,
    /// One record (or null).
    One,
}

#[derive(Clone, Copy, Debug)]
struct Edge {
    field: &'static str,
    to: Kind,
    shape: Shape,
}

const fn edge(field: &'static str, to: Kind, shape: Shape) -> Edge {
    Edge { field, to, shape }
}

const PATIENT_EDGES: [Edge; 4] = [
    edge("appointments", Kind::Appointment, Shape::Page),
    edge("prescriptions", Kind::Prescription, Shape::Page),
    edge("primaryDoctor", Kind::Doctor, Shape::One),
    edge("clinic", Kind::Clinic, Shape::One),
];
const APPOINTMENT_EDGES: [Edge; 4] = [
    edge("patient", Kind::Patient, Shape::One),
    edge("doctor", Kind::Doctor, Shape::One),
    edge("clinic", Kind::Clinic, Shape::One),
    edge("prescriptions", Kind::Prescription, Shape::List),
];
const PRESCRIPTION_EDGES: [Edge; 3] = [
    edge("patient", Kind::Patient, Shape::One),
    edge("prescriber", Kind::Doctor, Shape::One),
    edge("appointment", Kind::Appointment, Shape::One),
];
const DOCTOR_EDGES: [Edge; 3] = [
    edge("appointments", Kind::Appointment, Shape::Page),
    edge("patients", Kind::Patient, Shape::Page),
    edge("clinic", Kind::Clinic, Shape::One),
];

/// Root lists narrowed to one parent: the kind listed, the filter's argument, the parent's kind,
/// and the link (of [`World::linked`]) from the parent to the records the filter must list.
const FILTERS: [(Kind, &str, Kind, &str); 5] = [
    (
        Kind::Appointment,
        "patientId",
        Kind::Patient,
        "appointments",
    ),
    (Kind::Appointment, "doctorId", Kind::Doctor, "appointments"),
    (
        Kind::Prescription,
        "patientId",
        Kind::Patient,
        "prescriptions",
    ),
    (
        Kind::Prescription,
        "prescriberId",
        Kind::Doctor,
        "prescriptions",
    ),
    (Kind::Patient, "primaryDoctorId", Kind::Doctor, "patients"),
];

impl Kind {
    const ALL: [Kind; 5] = [
        Kind::Patient,
        Kind::Appointment,
        Kind::Prescription,
        Kind::Doctor,
        Kind::Clinic,
    ];

    fn type_name(self) -> &'static str {
        match self {
            Kind::Patient => "Patient",
            Kind::Appointment => "Appointment",
            Kind::Prescription => "Prescription",
            Kind::Doctor => "Doctor",
            Kind::Clinic => "Clinic",
        }
    }

    /// The root field that reads one record by id (the clinic has only `node` and `clinic`).
    fn root_one(self) -> Option<&'static str> {
        match self {
            Kind::Patient => Some("patient"),
            Kind::Appointment => Some("appointment"),
            Kind::Prescription => Some("prescription"),
            Kind::Doctor => Some("doctor"),
            Kind::Clinic => None,
        }
    }

    fn root_list(self) -> Option<&'static str> {
        match self {
            Kind::Patient => Some("patients"),
            Kind::Appointment => Some("appointments"),
            Kind::Prescription => Some("prescriptions"),
            Kind::Doctor => Some("doctors"),
            Kind::Clinic => None,
        }
    }

    /// Every field of the record but its lists (which are ways to other records).
    fn fields(self) -> &'static str {
        match self {
            Kind::Patient => {
                "id patientId name email phone bloodGroup dateOfBirth internalNotes createdAt \
                 updatedAt appointmentCount clinic { id } primaryDoctor { id }"
            }
            Kind::Appointment => {
                "id scheduledAt durationMinutes endsAt status reason notes cancellationReason \
                 createdAt updatedAt patient { id } doctor { id } clinic { id }"
            }
            Kind::Prescription => {
                "id medication dosage frequency route startDate endDate refills status \
                 discontinuedReason createdAt patient { id } prescriber { id } appointment { id }"
            }
            Kind::Doctor => "id name specialty licenseNumber email clinic { id }",
            Kind::Clinic => "id name timezone address phone",
        }
    }

    /// Non-null fields some roles are refused. Each is read in a query of its own, because its
    /// error nulls the record (and a list's every record) up to a nullable parent.
    fn apart(self) -> &'static [&'static str] {
        match self {
            Kind::Patient => &["prescriptionCount"],
            _ => &[],
        }
    }

    /// The fields of [`Kind::fields`] that may be null: an error of one nulls only itself.
    fn nullable(self) -> &'static [&'static str] {
        match self {
            Kind::Patient => &[
                "phone",
                "bloodGroup",
                "dateOfBirth",
                "internalNotes",
                "primaryDoctor",
            ],
            Kind::Appointment => &["reason", "notes", "cancellationReason"],
            Kind::Prescription => &["endDate", "discontinuedReason", "appointment"],
            Kind::Doctor => &["licenseNumber", "email"],
            Kind::Clinic => &["address", "phone"],
        }
    }

    fn edges(self) -> &'static [Edge] {
        match self {
            Kind::Patient => &PATIENT_EDGES,
            Kind::Appointment => &APPOINTMENT_EDGES,
            Kind::Prescription => &PRESCRIPTION_EDGES,
            Kind::Doctor => &DOCTOR_EDGES,
            Kind::Clinic => &[],
        }
    }
}

/// A record as it was written: what the rules and the edges are computed from.
struct Rec {
    kind: Kind,
    label: String,
    /// 0 or 1: the first clinic or the second.
    clinic: usize,
    /// An appointment's or prescription's patient.
    patient: Option<String>,
    /// An appointment's doctor, a prescription's prescriber, a patient's primary doctor.
    doctor: Option<String>,
    /// A prescription's appointment.
    appointment: Option<String>,
    /// A patient's `internalNotes`, an appointment's `notes`.
    notes: Option<String>,
    /// A patient's `PAT-…` number.
    number: Option<String>,
}

impl Rec {
    fn new(kind: Kind, clinic: usize, label: impl Into<String>) -> Self {
        Self {
            kind,
            label: label.into(),
            clinic,
            patient: None,
            doctor: None,
            appointment: None,
            notes: None,
            number: None,
        }
    }
}

#[derive(Default)]
struct World {
    recs: BTreeMap<String, Rec>,
    clinics: Vec<String>,
}

impl World {
    fn label(&self, id: &str) -> String {
        self.recs.get(id).map_or_else(
            || format!("{id} (not in the test's data)"),
            |r| r.label.clone(),
        )
    }

    fn of_kind(&self, kind: Kind) -> Vec<String> {
        self.recs
            .iter()
            .filter(|(_, r)| r.kind == kind)
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn pick(&self, kind: Kind, keep: impl Fn(&Rec) -> bool) -> Vec<String> {
        self.recs
            .iter()
            .filter(|(_, r)| r.kind == kind && keep(r))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The records `field` of record `id` leads to, as written.
    fn linked(&self, id: &str, field: &str) -> Vec<String> {
        let rec = &self.recs[id];
        let own = Some(id.to_owned());
        match (rec.kind, field) {
            (_, "clinic") => vec![self.clinics[rec.clinic].clone()],
            (Kind::Patient, "appointments") => self.pick(Kind::Appointment, |r| r.patient == own),
            (Kind::Patient, "prescriptions") => self.pick(Kind::Prescription, |r| r.patient == own),
            (Kind::Patient, "primaryDoctor")
            | (Kind::Appointment, "doctor")
            | (Kind::Prescription, "prescriber") => rec.doctor.iter().cloned().collect(),
            (Kind::Appointment | Kind::Prescription, "patient") => {
                rec.patient.iter().cloned().collect()
            }
            (Kind::Appointment, "prescriptions") => {
                self.pick(Kind::Prescription, |r| r.appointment == own)
            }
            (Kind::Prescription, "appointment") => rec.appointment.iter().cloned().collect(),
            (Kind::Doctor, "appointments") => self.pick(Kind::Appointment, |r| r.doctor == own),
            (Kind::Doctor, "patients") => self.pick(Kind::Patient, |r| r.doctor == own),
            (Kind::Doctor, "prescriptions") => self.pick(Kind::Prescription, |r| r.doctor == own),
            (kind, field) => panic!("{kind:?} has no edge {field}"),
        }
    }
}

/// Who reads, and what the README and the schema say they may see.
struct Viewer {
    name: String,
    role: Role,
    clinic: usize,
    /// A PATIENT account's own record.
    own: Option<String>,
    token: String,
}

impl fmt::Display for Viewer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl Viewer {
    /// Their clinic's records; for a PATIENT only their own record, appointments and
    /// prescriptions (and the clinic's doctors).
    fn sees(&self, world: &World, id: &str) -> bool {
        let Some(rec) = world.recs.get(id) else {
            return false;
        };
        if rec.clinic != self.clinic {
            return false;
        }
        match (&self.own, rec.kind) {
            (None, _) | (Some(_), Kind::Doctor | Kind::Clinic) => true,
            (Some(own), Kind::Patient) => own == id,
            (Some(own), _) => rec.patient.as_ref() == Some(own),
        }
    }

    /// A kind the role may not read at all, and the code every way to it answers.
    fn refuses(&self, kind: Kind) -> Option<&'static str> {
        (self.role == Role::Receptionist && kind == Kind::Prescription).then_some("FORBIDDEN")
    }

    /// The code of a record the viewer may not see.
    fn missing(&self, kind: Kind) -> &'static str {
        match kind {
            Kind::Patient => "PATIENT_NOT_FOUND",
            _ => "NOT_FOUND",
        }
    }

    /// Fields of a visible record that are FORBIDDEN to the role.
    fn masked(&self, kind: Kind, field: &str) -> bool {
        let clinical = matches!(self.role, Role::Admin | Role::Doctor | Role::Nurse);
        match (kind, field) {
            (Kind::Patient, "internalNotes") | (Kind::Appointment, "notes") => !clinical,
            (Kind::Patient, "prescriptionCount") => self.role == Role::Receptionist,
            _ => false,
        }
    }
}

#[derive(Clone, Debug)]
enum Root {
    One(String),
    Node(String),
    Number {
        id: String,
        number: String,
    },
    List,
    Filter {
        arg: &'static str,
        edge: &'static str,
        parent: String,
    },
    OwnClinic,
    Me,
}

/// A way to records of one kind: a root field, then edges.
#[derive(Clone, Debug)]
struct Path {
    root: Root,
    kind: Kind,
    hops: Vec<Edge>,
}

#[derive(Clone, Copy, Debug)]
enum Step {
    Key(&'static str),
    Each,
}

enum Expect {
    Reach(BTreeSet<String>),
    Refused(&'static str),
}

impl Path {
    fn new(root: Root, kind: Kind) -> Self {
        Self {
            root,
            kind,
            hops: Vec::new(),
        }
    }

    fn then(&self, hop: Edge) -> Self {
        let mut next = self.clone();
        next.hops.push(hop);
        next
    }

    fn end(&self) -> Kind {
        self.hops.last().map_or(self.kind, |hop| hop.to)
    }

    fn name(&self, world: &World) -> String {
        let list = self.kind.root_list().unwrap_or("?");
        let mut name = match &self.root {
            Root::One(id) => format!(
                "{}(id: {})",
                self.kind.root_one().unwrap_or("?"),
                world.label(id)
            ),
            Root::Node(id) => format!("node(id: {})", world.label(id)),
            Root::Number { number, .. } => format!("patientByPatientId(\"{number}\")"),
            Root::List => list.to_owned(),
            Root::Filter { arg, parent, .. } => {
                format!("{list}(filter: {{{arg}: {}}})", world.label(parent))
            }
            Root::OwnClinic => "clinic".to_owned(),
            Root::Me => "me > patient".to_owned(),
        };
        for hop in &self.hops {
            name.push_str(" > ");
            name.push_str(hop.field);
        }
        name
    }

    /// The document and variables, with `selection` on the records the path reaches.
    fn query(&self, selection: &str) -> (String, Value) {
        let mut inner = selection.to_owned();
        for hop in self.hops.iter().rev() {
            inner = match hop.shape {
                Shape::Page => format!(
                    "id {}(first: 20) {{ totalCount nodes {{ {inner} }} }}",
                    hop.field
                ),
                Shape::List | Shape::One => format!("id {} {{ {inner} }}", hop.field),
            };
        }
        let list = self.kind.root_list().unwrap_or("?");
        match &self.root {
            Root::One(id) => (
                format!(
                    "query($id: ID!) {{ {}(id: $id) {{ {inner} }} }}",
                    self.kind.root_one().unwrap_or("?")
                ),
                json!({ "id": id }),
            ),
            Root::Node(id) => (
                format!(
                    "query($id: ID!) {{ node(id: $id) {{ ... on {} {{ {inner} }} }} }}",
                    self.kind.type_name()
                ),
                json!({ "id": id }),
            ),
            Root::Number { number, .. } => (
                format!("query($n: String!) {{ patientByPatientId(patientId: $n) {{ {inner} }} }}"),
                json!({ "n": number }),
            ),
            Root::List => (
                format!("{{ {list}(first: 20) {{ totalCount nodes {{ {inner} }} }} }}"),
                json!({}),
            ),
            Root::Filter { arg, parent, .. } => (
                format!(
                    "query($id: ID!) {{ {list}(first: 20, filter: {{ {arg}: $id }}) {{ totalCount nodes {{ {inner} }} }} }}"
                ),
                json!({ "id": parent }),
            ),
            Root::OwnClinic => (format!("{{ clinic {{ {inner} }} }}"), json!({})),
            Root::Me => (format!("{{ me {{ patient {{ {inner} }} }} }}"), json!({})),
        }
    }

    /// Where in `data` the records the path reaches are.
    fn pattern(&self) -> Vec<Step> {
        let mut steps = match &self.root {
            Root::One(_) => vec![Step::Key(self.kind.root_one().unwrap_or("?"))],
            Root::Node(_) => vec![Step::Key("node")],
            Root::Number { .. } => vec![Step::Key("patientByPatientId")],
            Root::List | Root::Filter { .. } => vec![
                Step::Key(self.kind.root_list().unwrap_or("?")),
                Step::Key("nodes"),
                Step::Each,
            ],
            Root::OwnClinic => vec![Step::Key("clinic")],
            Root::Me => vec![Step::Key("me"), Step::Key("patient")],
        };
        for hop in &self.hops {
            steps.push(Step::Key(hop.field));
            match hop.shape {
                Shape::Page => steps.extend([Step::Key("nodes"), Step::Each]),
                Shape::List => steps.push(Step::Each),
                Shape::One => {}
            }
        }
        steps
    }

    /// What the path must answer by the rules: the records it reaches, or the code it is
    /// refused with.
    fn expect(&self, world: &World, viewer: &Viewer) -> Expect {
        let visible = |id: &String| viewer.sees(world, id);
        let mut reached: BTreeSet<String> = match &self.root {
            Root::One(id) | Root::Node(id) | Root::Number { id, .. } => {
                if let Some(code) = viewer.refuses(self.kind) {
                    return Expect::Refused(code);
                }
                if !visible(id) {
                    return Expect::Refused(viewer.missing(self.kind));
                }
                BTreeSet::from([id.clone()])
            }
            Root::List => {
                if let Some(code) = viewer.refuses(self.kind) {
                    return Expect::Refused(code);
                }
                world
                    .of_kind(self.kind)
                    .into_iter()
                    .filter(visible)
                    .collect()
            }
            Root::Filter { edge, parent, .. } => {
                if let Some(code) = viewer.refuses(self.kind) {
                    return Expect::Refused(code);
                }
                world
                    .linked(parent, edge)
                    .into_iter()
                    .filter(visible)
                    .collect()
            }
            Root::OwnClinic => BTreeSet::from([world.clinics[viewer.clinic].clone()]),
            Root::Me => viewer.own.iter().cloned().collect(),
        };
        for hop in &self.hops {
            if reached.is_empty() {
                break;
            }
            if let Some(code) = viewer.refuses(hop.to) {
                return Expect::Refused(code);
            }
            reached = reached
                .iter()
                .flat_map(|parent| world.linked(parent, hop.field))
                .filter(visible)
                .collect();
        }
        Expect::Reach(reached)
    }
}

/// One field of a record as a way answered it.
#[derive(Clone, Debug, PartialEq)]
enum Field {
    Value(Value),
    Error(String),
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Value(value) => write!(f, "{value}"),
            Field::Error(code) => write!(f, "error {code}"),
        }
    }
}

type Fields = BTreeMap<String, Field>;

/// A field for a message: a link to another record by that record's label.
fn show(world: &World, field: Option<&Field>) -> String {
    match field {
        None => "nothing".to_owned(),
        Some(Field::Value(Value::Object(link))) if link.len() == 1 => match link.get("id") {
            Some(Value::String(id)) => format!("{{id: {}}}", world.label(id)),
            _ => Value::Object(link.clone()).to_string(),
        },
        Some(field) => field.to_string(),
    }
}

struct Found {
    /// Where in `data` it is.
    at: Vec<Value>,
    id: String,
    fields: Fields,
}

/// One answer, per record.
#[derive(Default)]
struct Reading {
    found: Vec<Found>,
    /// The codes of errors above the records: the way (or a part of it) refused as a whole.
    refused: BTreeSet<String>,
    /// Records nulled by an error of one of their non-null fields: (where, field, code).
    lost: Vec<(Vec<Value>, String, String)>,
    /// What else is wrong with the answer.
    flaws: Vec<String>,
}

fn codes(codes: &BTreeSet<String>) -> String {
    let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
    if codes.is_empty() {
        "no error".to_owned()
    } else {
        codes.join(", ")
    }
}

impl Reading {
    fn of(body: &Value, pattern: &[Step], kind: Kind) -> Self {
        let mut reading = Reading::default();
        reading.walk(&body["data"], pattern, &mut Vec::new());
        for error in body["errors"].as_array().into_iter().flatten() {
            let code = error["extensions"]["code"]
                .as_str()
                .unwrap_or("(no code)")
                .to_owned();
            let path = error["path"].as_array().cloned().unwrap_or_default();
            let n = pattern.len();
            let in_record = path.len() > n
                && pattern.iter().zip(&path).all(|(step, at)| match step {
                    Step::Key(key) => at.as_str() == Some(key),
                    Step::Each => at.is_u64(),
                });
            if !in_record {
                reading.refused.insert(code);
                continue;
            }
            let at = path[..n].to_vec();
            let field = path[n].as_str().unwrap_or("?").to_owned();
            match reading.found.iter_mut().find(|found| found.at == at) {
                Some(found) => {
                    found.fields.insert(field, Field::Error(code));
                }
                // A nullable field's error nulls only the field: where its record is gone, another
                // field's error took it.
                None if kind.nullable().contains(&field.as_str()) => {}
                None => reading.lost.push((at, field, code)),
            }
        }
        reading
    }

    /// Neither refused in part nor missing records nulled by their fields' errors.
    fn whole(&self) -> bool {
        self.refused.is_empty() && self.lost.is_empty()
    }

    /// Every code the answer gave above the fields of the records it shows.
    fn codes(&self) -> BTreeSet<String> {
        let lost = self.lost.iter().map(|(_, _, code)| code.clone());
        self.refused.iter().cloned().chain(lost).collect()
    }

    fn walk(&mut self, value: &Value, pattern: &[Step], at: &mut Vec<Value>) {
        match pattern.split_first() {
            None => {
                if let Some(record) = value.as_object() {
                    let fields = record
                        .iter()
                        .map(|(name, value)| (name.clone(), Field::Value(value.clone())))
                        .collect();
                    self.found.push(Found {
                        at: at.clone(),
                        id: record
                            .get("id")
                            .and_then(Value::as_str)
                            .unwrap_or("(no id)")
                            .to_owned(),
                        fields,
                    });
                }
            }
            Some((Step::Key(key), rest)) => {
                let Some(next) = value.get(*key) else {
                    return;
                };
                // A connection's count must count what its pages show (all of it fits in one).
                if *key == "nodes"
                    && let (Some(total), Some(nodes)) =
                        (value["totalCount"].as_u64(), next.as_array())
                    && total != nodes.len() as u64
                {
                    self.flaws.push(format!(
                        "the list at {} counts {total} but shows {}",
                        Value::Array(at.clone()),
                        nodes.len()
                    ));
                }
                at.push(json!(key));
                self.walk(next, rest, at);
                at.pop();
            }
            Some((Step::Each, rest)) => {
                for (index, item) in value.as_array().into_iter().flatten().enumerate() {
                    at.push(json!(index));
                    self.walk(item, rest, at);
                    at.pop();
                }
            }
        }
    }

    /// Adds `field`, read apart (same path, same order), to the records of this reading.
    fn merge(&mut self, field: &str, apart: Reading) {
        for found in apart.found {
            let value = found.fields.get(field).cloned();
            match (self.found.iter_mut().find(|f| f.at == found.at), value) {
                (Some(main), Some(value)) => {
                    main.fields.insert(field.to_owned(), value);
                }
                _ => self.flaws.push(format!(
                    "reading {field} apart reached {} where the whole record was not",
                    Value::Array(found.at)
                )),
            }
        }
        // Where the answer is not whole, reading apart misses the same records: that is
        // reported once, from the answer.
        let already_lost = !self.whole();
        for (at, lost_field, code) in apart.lost {
            match self.found.iter_mut().find(|f| f.at == at) {
                Some(main) if lost_field == field => {
                    main.fields.insert(field.to_owned(), Field::Error(code));
                }
                _ if already_lost => {}
                _ => self.lost.push((at, lost_field, code)),
            }
        }
        if apart.refused != self.refused && !already_lost {
            self.flaws.push(format!(
                "refused with {} when reading {field} apart, with {} otherwise",
                codes(&apart.refused),
                codes(&self.refused)
            ));
        }
        self.flaws.extend(apart.flaws);
    }
}

async fn read(app: &TestApp, viewer: &Viewer, path: &Path) -> Reading {
    let pattern = path.pattern();
    let ask = |selection: &str| {
        let (query, variables) = path.query(selection);
        async move { app.gql(Some(&viewer.token), &query, variables).await.body }
    };
    let kind = path.end();
    let mut reading = Reading::of(&ask(kind.fields()).await, &pattern, kind);
    for field in kind.apart() {
        let apart = Reading::of(&ask(&format!("id {field}")).await, &pattern, kind);
        reading.merge(field, apart);
    }
    reading
}

/// What a record's own root field answered.
enum Outcome {
    Seen(Fields),
    Refused(BTreeSet<String>),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Seen(_) => f.write_str("shows it"),
            Outcome::Refused(found) => write!(f, "refuses it with {}", codes(found)),
        }
    }
}

/// The reference reading of each record: its root field (for a clinic, `node`).
struct Reference {
    path: String,
    outcome: Outcome,
}

struct Check<'a> {
    app: &'a TestApp,
    world: &'a World,
    viewer: &'a Viewer,
    refs: BTreeMap<String, Reference>,
    /// Per refused kind, its root list's answer, for the messages.
    kind_refusals: BTreeMap<Kind, String>,
    problems: Vec<String>,
    /// Records compared with their reference, and ways refused as a whole: a run that
    /// compared nothing proves nothing.
    compared: usize,
    refused: usize,
}

impl Check<'_> {
    fn problem(&mut self, text: String) {
        self.problems.push(format!("{}: {text}", self.viewer));
    }

    /// Each record by its own root field, held to the rules: the references.
    async fn references(&mut self) {
        let ids: Vec<String> = self.world.recs.keys().cloned().collect();
        for id in ids {
            let kind = self.world.recs[&id].kind;
            let root = if kind.root_one().is_some() {
                Root::One(id.clone())
            } else {
                Root::Node(id.clone())
            };
            let path = Path::new(root, kind);
            let name = path.name(self.world);
            let reading = read(self.app, self.viewer, &path).await;
            self.flaws(&name, &reading);
            let outcome = match (reading.found.as_slice(), reading.whole()) {
                ([found], true) => Outcome::Seen(found.fields.clone()),
                _ => Outcome::Refused(reading.codes()),
            };
            let label = self.world.label(&id);
            match (path.expect(self.world, self.viewer), &outcome) {
                (Expect::Reach(_), Outcome::Seen(fields)) => self.masking(&id, fields, &name),
                (Expect::Refused(code), Outcome::Refused(found))
                    if found.len() == 1 && found.contains(code) => {}
                (Expect::Reach(_), _) => self.problem(format!(
                    "{label}: `{name}` {outcome}, but the rules let this role read it"
                )),
                (Expect::Refused(code), _) => self.problem(format!(
                    "{label}: `{name}` {outcome}, but the rules refuse it with {code}"
                )),
            }
            self.refs.insert(
                id,
                Reference {
                    path: name,
                    outcome,
                },
            );
        }
    }

    /// The masked fields of a record the viewer reads, and the counts, are as the rules say.
    fn masking(&mut self, id: &str, fields: &Fields, path: &str) {
        let (world, viewer) = (self.world, self.viewer);
        let rec = &world.recs[id];
        let mut expected: Vec<(&str, Field)> = Vec::new();
        let note = |field: &str| {
            if viewer.masked(rec.kind, field) {
                Field::Error("FORBIDDEN".into())
            } else {
                Field::Value(json!(rec.notes))
            }
        };
        let count = |field: &str| {
            if viewer.masked(rec.kind, field) {
                Field::Error("FORBIDDEN".into())
            } else {
                let edge = if field == "appointmentCount" {
                    "appointments"
                } else {
                    "prescriptions"
                };
                Field::Value(json!(world.linked(id, edge).len()))
            }
        };
        match rec.kind {
            Kind::Patient => {
                expected.push(("internalNotes", note("internalNotes")));
                expected.push(("appointmentCount", count("appointmentCount")));
                expected.push(("prescriptionCount", count("prescriptionCount")));
            }
            Kind::Appointment => expected.push(("notes", note("notes"))),
            _ => {}
        }
        for (field, want) in expected {
            let got = fields.get(field);
            if got != Some(&want) {
                self.problem(format!(
                    "{}: `{path}` gives {field} = {}, the rules say {want}",
                    rec.label,
                    show(world, got)
                ));
            }
        }
    }

    fn flaws(&mut self, name: &str, reading: &Reading) {
        for flaw in &reading.flaws {
            self.problem(format!("`{name}`: {flaw}"));
        }
        let mut lost: BTreeMap<(&str, &str), (usize, &Vec<Value>)> = BTreeMap::new();
        for (at, field, code) in &reading.lost {
            lost.entry((field, code)).or_insert((0, at)).0 += 1;
        }
        for ((field, code), (count, at)) in lost {
            self.problem(format!(
                "`{name}`: an error {code} of the non-null field {field} nulls {count} record(s) \
                 (the first at {}), each with what contains it up to a nullable field",
                Value::Array(at.clone())
            ));
        }
    }

    /// One way, against the rules and the references.
    async fn way(&mut self, path: &Path) {
        let name = path.name(self.world);
        let reading = read(self.app, self.viewer, path).await;
        self.flaws(&name, &reading);
        if path.hops.is_empty() && matches!(path.root, Root::List) {
            self.kind_refusals.insert(
                path.kind,
                format!("`{name}` is {}", codes(&reading.refused)),
            );
        }
        match path.expect(self.world, self.viewer) {
            Expect::Refused(code) => {
                self.refused += 1;
                let wanted = BTreeSet::from([code.to_owned()]);
                if reading.codes() != wanted || !reading.found.is_empty() {
                    let why = self.why_refused(path, code);
                    self.problem(format!(
                        "`{name}` answers {} and shows {} record(s); {why}",
                        codes(&reading.codes()),
                        reading.found.len()
                    ));
                }
            }
            Expect::Reach(expected) => {
                if !reading.refused.is_empty() {
                    self.problem(format!(
                        "`{name}` is refused with {}, but leads to records the role reads: {}",
                        codes(&reading.refused),
                        self.labels(&expected)
                    ));
                }
                let reached: BTreeSet<String> =
                    reading.found.iter().map(|f| f.id.clone()).collect();
                // An answer refused in part, or missing records nulled by a field's error (with
                // their lists, up to a nullable parent), is reported as such above, not by each
                // record it hides.
                let missing = if reading.whole() {
                    expected.difference(&reached).cloned().collect()
                } else {
                    BTreeSet::new()
                };
                for id in &missing {
                    let (label, reference) = (self.world.label(id), self.reference(id));
                    self.problem(format!("{label}: `{name}` does not reach it; {reference}"));
                }
                for id in reached.difference(&expected) {
                    let label = self.world.label(id);
                    let whose = match self.world.recs.get(id) {
                        Some(rec) if rec.clinic != self.viewer.clinic => {
                            "ANOTHER CLINIC'S RECORD; "
                        }
                        _ => "",
                    };
                    let reference = self.reference(id);
                    self.problem(format!(
                        "{label}: `{name}` reaches it ({whose}the records' links do not lead \
                         there for this role); {reference}"
                    ));
                }
                for found in &reading.found {
                    self.compared += 1;
                    self.same_as_reference(&name, found);
                }
            }
        }
    }

    fn why_refused(&self, path: &Path, code: &str) -> String {
        let by_id = match &path.root {
            Root::One(id) | Root::Node(id) | Root::Number { id, .. }
                if path.hops.is_empty() && self.viewer.refuses(path.kind).is_none() =>
            {
                Some(id)
            }
            _ => None,
        };
        match by_id {
            Some(id) => format!("the rules refuse it with {code}; {}", self.reference(id)),
            None => {
                let refused = [path.kind]
                    .into_iter()
                    .chain(path.hops.iter().map(|hop| hop.to))
                    .find(|kind| self.viewer.refuses(*kind).is_some());
                let list = refused.and_then(|kind| self.kind_refusals.get(&kind));
                format!(
                    "the rules refuse it with {code}{}",
                    list.map(|l| format!(" ({l})")).unwrap_or_default()
                )
            }
        }
    }

    fn reference(&self, id: &str) -> String {
        match self.refs.get(id) {
            Some(reference) => format!("`{}` {}", reference.path, reference.outcome),
            None => "no root field reads it".to_owned(),
        }
    }

    fn labels(&self, ids: &BTreeSet<String>) -> String {
        let labels: Vec<String> = ids.iter().map(|id| self.world.label(id)).collect();
        labels.join(", ")
    }

    /// Each field as the record's own root field gives it. (A record that root field refuses
    /// is reported by the check of what the way reaches.)
    fn same_as_reference(&mut self, name: &str, found: &Found) {
        let Some(Reference {
            path,
            outcome: Outcome::Seen(fields),
        }) = self.refs.get(&found.id)
        else {
            return;
        };
        let label = self.world.label(&found.id);
        let names: BTreeSet<&String> = fields.keys().chain(found.fields.keys()).collect();
        let mut differences = Vec::new();
        for field in names {
            let (here, there) = (found.fields.get(field), fields.get(field));
            if here != there {
                differences.push(format!(
                    "{label}: `{name}` gives {field} = {}, `{path}` gives {field} = {}",
                    show(self.world, here),
                    show(self.world, there)
                ));
            }
        }
        for difference in differences {
            self.problem(difference);
        }
    }
}

/// Every way to the records: see the module's comment.
fn ways(world: &World, refs: &BTreeMap<String, Reference>) -> Vec<Path> {
    let readable = |id: &String| {
        matches!(
            refs.get(id),
            Some(Reference {
                outcome: Outcome::Seen(_),
                ..
            })
        )
    };
    let mut paths = Vec::new();
    for (id, rec) in &world.recs {
        let kind = rec.kind;
        let by_node = Path::new(Root::Node(id.clone()), kind);
        if kind.root_one().is_some() {
            paths.push(by_node.clone());
        }
        if let Some(number) = &rec.number {
            paths.push(Path::new(
                Root::Number {
                    id: id.clone(),
                    number: number.clone(),
                },
                kind,
            ));
        }
        if !readable(id) {
            continue;
        }
        let by_root = Path::new(Root::One(id.clone()), kind);
        for hop in kind.edges() {
            if kind.root_one().is_some() {
                paths.push(by_root.then(*hop));
            }
            paths.push(by_node.then(*hop));
        }
        for (listed, arg, parent_kind, edge) in FILTERS {
            if parent_kind == kind {
                let root = Root::Filter {
                    arg,
                    edge,
                    parent: id.clone(),
                };
                paths.push(Path::new(root, listed));
            }
        }
    }
    for kind in Kind::ALL {
        if kind.root_list().is_none() {
            continue;
        }
        let list = Path::new(Root::List, kind);
        paths.push(list.clone());
        for first in kind.edges() {
            paths.push(list.then(*first));
            for second in first.to.edges() {
                paths.push(list.then(*first).then(*second));
            }
        }
    }
    paths.push(Path::new(Root::OwnClinic, Kind::Clinic));
    paths.push(Path::new(Root::Me, Kind::Patient));
    // Root lists first: their answers are cited when a nested list is refused differently.
    paths.sort_by_key(|path| !(path.hops.is_empty() && matches!(path.root, Root::List)));
    paths
}

async fn every_way_to_a_record_applies_the_same_rules(app: TestApp) {
    let (world, viewers) = build(&app).await;
    let mut problems = Vec::new();
    let (mut ways_read, mut compared, mut refused) = (0, 0, 0);
    for viewer in &viewers {
        let mut check = Check {
            app: &app,
            world: &world,
            viewer,
            refs: BTreeMap::new(),
            kind_refusals: BTreeMap::new(),
            problems: Vec::new(),
            compared: 0,
            refused: 0,
        };
        check.references().await;
        let paths = ways(&world, &check.refs);
        ways_read += world.recs.len() + paths.len();
        for path in &paths {
            check.way(path).await;
        }
        compared += check.compared;
        refused += check.refused;
        problems.extend(check.problems);
    }
    eprintln!(
        "{} viewers, {} records, {ways_read} ways read: {compared} records compared field by \
         field, {refused} ways refused as a whole",
        viewers.len(),
        world.recs.len()
    );
    assert!(
        compared > 1000 && refused > 100,
        "{compared} compared, {refused} refused"
    );
    assert!(
        problems.is_empty(),
        "{} disagreements between ways to the same records:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

// Two-hop pages of pages are far over the default complexity limit (it weighs each list at its
// page size); the clinics are small, so the answers are not.
on_every_backend!(
    env [("MAX_QUERY_COMPLEXITY", "10000000")];
    every_way_to_a_record_applies_the_same_rules,
);

// ---- The two clinics -------------------------------------------------------------------

struct Builder<'a> {
    app: &'a TestApp,
    world: World,
}

impl Builder<'_> {
    async fn clinic(&mut self, name: &str, timezone: &str, address: Option<&str>) -> i64 {
        let now = clinicgraph::db::now();
        let clinic = self
            .app
            .repos
            .clinics
            .insert(NewClinic {
                name: name.into(),
                timezone: timezone.into(),
                address: address.map(Into::into),
                phone: address.map(|_| "5550102030".into()),
                created_at: now,
                updated_at: now,
            })
            .await
            .expect("clinic");
        let id = ids::encode(NodeType::Clinic, clinic.id);
        let index = self.world.clinics.len();
        self.world.clinics.push(id.clone());
        self.world
            .recs
            .insert(id, Rec::new(Kind::Clinic, index, format!("clinic {name}")));
        clinic.id
    }

    /// An account and its token; returns the token and the user's global id.
    async fn account(
        &self,
        clinic_id: i64,
        email: &str,
        role: Role,
        patient_id: Option<i64>,
    ) -> (String, String) {
        let user = self
            .app
            .services
            .auth
            .create_account(NewAccount {
                clinic_id,
                email: email.into(),
                name: format!("{role:?} {email}"),
                role,
                password: DEMO_PASSWORD.into(),
                patient_id,
            })
            .await
            .expect("account");
        let response = self.app.login(email, DEMO_PASSWORD).await;
        let token = response.body["data"]["login"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("login failed: {}", response.text))
            .to_owned();
        (token, ids::encode(NodeType::User, user.id))
    }

    async fn doctor(&mut self, admin: &str, clinic: usize, input: Value) -> String {
        let name = input["name"].as_str().unwrap_or("?").to_owned();
        let data = self
            .app
            .ok(
                admin,
                "mutation($i: CreateDoctorInput!) { createDoctor(input: $i) { id } }",
                json!({ "i": input }),
            )
            .await;
        let id = data["createDoctor"]["id"].as_str().expect("id").to_owned();
        self.world
            .recs
            .insert(id.clone(), Rec::new(Kind::Doctor, clinic, name));
        id
    }

    async fn patient(&mut self, admin: &str, clinic: usize, input: Value) -> String {
        let data = self
            .app
            .ok(
                admin,
                "mutation($i: CreatePatientInput!) { createPatient(input: $i) { id patientId } }",
                json!({ "i": input }),
            )
            .await;
        let id = data["createPatient"]["id"].as_str().expect("id").to_owned();
        let mut rec = Rec::new(
            Kind::Patient,
            clinic,
            format!("patient {}", input["name"].as_str().unwrap_or("?")),
        );
        rec.doctor = input["primaryDoctorId"].as_str().map(str::to_owned);
        rec.notes = input["internalNotes"].as_str().map(str::to_owned);
        rec.number = data["createPatient"]["patientId"]
            .as_str()
            .map(str::to_owned);
        self.world.recs.insert(id.clone(), rec);
        id
    }

    async fn appointment(&mut self, admin: &str, label: &str, input: Value) -> String {
        let data = self
            .app
            .ok(
                admin,
                "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id } }",
                json!({ "i": input }),
            )
            .await;
        let id = data["scheduleAppointment"]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let patient = input["patientId"].as_str().expect("patient").to_owned();
        let clinic = self.world.recs[&patient].clinic;
        let mut rec = Rec::new(Kind::Appointment, clinic, format!("appointment {label}"));
        rec.patient = Some(patient);
        rec.doctor = input["doctorId"].as_str().map(str::to_owned);
        rec.notes = input["notes"].as_str().map(str::to_owned);
        self.world.recs.insert(id.clone(), rec);
        id
    }

    /// Prescribed by the DOCTOR account `doctor` of the profile `prescriber`.
    async fn prescription(&mut self, doctor: &str, prescriber: &str, input: Value) -> String {
        let data = self
            .app
            .ok(
                doctor,
                "mutation($i: PrescribeInput!) { prescribe(input: $i) { id } }",
                json!({ "i": input }),
            )
            .await;
        let id = data["prescribe"]["id"].as_str().expect("id").to_owned();
        let patient = input["patientId"].as_str().expect("patient").to_owned();
        let clinic = self.world.recs[&patient].clinic;
        let label = format!(
            "prescription {} for {}",
            input["medication"].as_str().unwrap_or("?"),
            self.world.label(&patient)
        );
        let mut rec = Rec::new(Kind::Prescription, clinic, label);
        rec.patient = Some(patient);
        rec.doctor = Some(prescriber.to_owned());
        rec.appointment = input["appointmentId"].as_str().map(str::to_owned);
        self.world.recs.insert(id.clone(), rec);
        id
    }

    async fn run(&self, token: &str, query: &str, id: &str) {
        self.app.ok(token, query, json!({ "id": id })).await;
    }
}

fn rx(patient: &str, appointment: Option<&str>, medication: &str) -> Value {
    let mut input = json!({ "patientId": patient, "medication": medication, "dosage": "10 mg",
        "frequency": "daily", "route": "oral", "startDate": "2027-03-01" });
    if let Some(appointment) = appointment {
        input["appointmentId"] = json!(appointment);
    }
    input
}

fn visit(patient: &str, doctor: &str, day: i64) -> Value {
    json!({ "patientId": patient, "doctorId": doctor, "scheduledAt": at(day, 9, 0),
        "durationMinutes": 30 })
}

/// Clinic A: three doctors (one with neither patients nor visits), four patients (one without
/// a primary doctor), six appointments in several states (four with notes), five prescriptions
/// by two doctors (two written at an appointment, one discontinued). Clinic B: a doctor, two
/// patients, two appointments and two prescriptions of its own. The viewers: each role of
/// clinic A, its PATIENT being the first patient, and clinic B's ADMIN.
async fn build(app: &TestApp) -> (World, Vec<Viewer>) {
    let mut b = Builder {
        app,
        world: World::default(),
    };
    let north = b
        .clinic("North Paths", "Europe/Paris", Some("1 Rue de la Paix"))
        .await;
    let south = b.clinic("South Paths", "UTC", None).await;
    let (admin, _) = b
        .account(north, "admin@north.paths", Role::Admin, None)
        .await;
    let (doctor, doctor_user) = b
        .account(north, "doctor@north.paths", Role::Doctor, None)
        .await;
    let (doctor2, doctor2_user) = b
        .account(north, "doctor2@north.paths", Role::Doctor, None)
        .await;
    let (nurse, _) = b
        .account(north, "nurse@north.paths", Role::Nurse, None)
        .await;
    let (reception, _) = b
        .account(north, "reception@north.paths", Role::Receptionist, None)
        .await;

    let d1 = b
        .doctor(
            &admin,
            0,
            json!({ "name": "Dr. Ida Stone", "specialty": "General Practice",
                "licenseNumber": "GP-1001", "email": "ida@north.paths", "userId": doctor_user }),
        )
        .await;
    let d2 = b
        .doctor(
            &admin,
            0,
            json!({ "name": "Dr. Omar Reyes", "specialty": "Cardiology", "userId": doctor2_user }),
        )
        .await;
    b.doctor(
        &admin,
        0,
        json!({ "name": "Dr. Lena Fox", "specialty": "Dermatology" }),
    )
    .await;

    let p1 = b
        .patient(
            &admin,
            0,
            json!({ "name": "Ann Avery", "email": "ann@north.paths", "phone": "5550000001",
                "bloodGroup": "O_NEG", "dateOfBirth": "1980-02-03",
                "internalNotes": "Allergic to penicillin", "primaryDoctorId": d1 }),
        )
        .await;
    let p2 = b
        .patient(
            &admin,
            0,
            json!({ "name": "Ben Brook", "email": "ben@north.paths", "phone": "5550000002",
                "bloodGroup": "A_POS", "primaryDoctorId": d1 }),
        )
        .await;
    let p3 = b
        .patient(
            &admin,
            0,
            json!({ "name": "Cleo Cruz", "email": "cleo@north.paths", "phone": "5550000003",
                "primaryDoctorId": d2 }),
        )
        .await;
    let p4 = b
        .patient(
            &admin,
            0,
            json!({ "name": "Dev Dunn", "email": "dev@north.paths", "phone": "5550000004",
                "dateOfBirth": "2001-11-30", "internalNotes": "Prefers mornings" }),
        )
        .await;
    let own = ids::decode_as(NodeType::Patient, &p1).expect("patient key");
    let (patient, _) = b
        .account(north, "ann@north.paths", Role::Patient, Some(own))
        .await;

    let mut first = visit(&p1, &d1, 500);
    first["reason"] = json!("Annual check");
    first["notes"] = json!("Mole on the left arm");
    let a1 = b.appointment(&admin, "1 (Ann with Dr. Stone)", first).await;
    b.appointment(&admin, "2 (Ann with Dr. Reyes)", visit(&p1, &d2, 501))
        .await;
    let mut third = visit(&p2, &d1, 502);
    third["notes"] = json!("Blood pressure follow-up");
    let a3 = b.appointment(&admin, "3 (Ben with Dr. Stone)", third).await;
    let mut fourth = visit(&p3, &d2, 503);
    fourth["notes"] = json!("Knee pain");
    let a4 = b
        .appointment(&admin, "4 (Cleo with Dr. Reyes)", fourth)
        .await;
    let mut fifth = visit(&p2, &d2, 504);
    fifth["notes"] = json!("Cancelled by phone");
    let a5 = b.appointment(&admin, "5 (Ben with Dr. Reyes)", fifth).await;
    let mut sixth = visit(&p4, &d1, 505);
    sixth["reason"] = json!("First visit");
    b.appointment(&admin, "6 (Dev with Dr. Stone)", sixth).await;
    for step in ["confirmAppointment", "checkInAppointment"] {
        let query = format!("mutation($id: ID!) {{ {step}(id: $id) {{ id }} }}");
        b.run(&admin, &query, &a1).await;
    }
    let complete = "mutation($id: ID!) { completeAppointment(id: $id) { id } }";
    b.run(&doctor, complete, &a1).await;
    b.run(
        &admin,
        "mutation($id: ID!) { confirmAppointment(id: $id) { id } }",
        &a3,
    )
    .await;
    let cancel = "mutation($id: ID!) { cancelAppointment(id: $id, reason: \"Unwell\") { id } }";
    b.run(&admin, cancel, &a5).await;

    b.prescription(&doctor, &d1, rx(&p1, Some(&a1), "Amoxicillin"))
        .await;
    let mut loose = rx(&p1, None, "Vitamin D");
    loose["refills"] = json!(2);
    b.prescription(&doctor, &d1, loose).await;
    let mut ended = rx(&p2, Some(&a3), "Lisinopril");
    ended["endDate"] = json!("2027-06-01");
    b.prescription(&doctor, &d1, ended).await;
    let stopped = b
        .prescription(&doctor2, &d2, rx(&p3, Some(&a4), "Ibuprofen"))
        .await;
    b.run(
        &doctor2,
        "mutation($id: ID!) { discontinuePrescription(id: $id, reason: \"Stomach upset\") { id } }",
        &stopped,
    )
    .await;
    b.prescription(&doctor2, &d2, rx(&p4, None, "Metformin"))
        .await;
    let (south_admin, _) = b
        .account(south, "admin@south.paths", Role::Admin, None)
        .await;
    let (south_doctor, south_doctor_user) = b
        .account(south, "doctor@south.paths", Role::Doctor, None)
        .await;
    let db = b
        .doctor(
            &south_admin,
            1,
            json!({ "name": "Dr. Sam South", "specialty": "Pediatrics",
                "userId": south_doctor_user }),
        )
        .await;
    let pb1 = b
        .patient(
            &south_admin,
            1,
            json!({ "name": "Eve East", "email": "eve@south.paths", "phone": "5550000005",
                "internalNotes": "South notes", "primaryDoctorId": db }),
        )
        .await;
    let pb2 = b
        .patient(
            &south_admin,
            1,
            json!({ "name": "Finn Ford", "email": "finn@south.paths", "phone": "5550000006" }),
        )
        .await;
    let mut south_visit = visit(&pb1, &db, 506);
    south_visit["notes"] = json!("South clinical note");
    let ab1 = b
        .appointment(&south_admin, "S1 (Eve with Dr. South)", south_visit)
        .await;
    b.appointment(
        &south_admin,
        "S2 (Finn with Dr. South)",
        visit(&pb2, &db, 507),
    )
    .await;
    b.prescription(&south_doctor, &db, rx(&pb1, Some(&ab1), "Salbutamol"))
        .await;
    b.prescription(&south_doctor, &db, rx(&pb2, None, "Cetirizine"))
        .await;

    let viewers = [
        ("ADMIN", Role::Admin, admin, None),
        ("DOCTOR", Role::Doctor, doctor, None),
        ("NURSE", Role::Nurse, nurse, None),
        ("RECEPTIONIST", Role::Receptionist, reception, None),
        (
            "PATIENT (Ann Avery)",
            Role::Patient,
            patient,
            Some(p1.clone()),
        ),
    ]
    .into_iter()
    .map(|(name, role, token, own)| Viewer {
        name: format!("{name} of North Paths"),
        role,
        clinic: 0,
        own,
        token,
    })
    .chain([Viewer {
        name: "ADMIN of South Paths".into(),
        role: Role::Admin,
        clinic: 1,
        own: None,
        token: south_admin,
    }])
    .collect();
    (b.world, viewers)
}
