//! Opaque global ids (`node(id:)`): base64url of `Type:key`, so clients treat them as strings and
//! never build them.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The node types that have global ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeType {
    Patient,
    User,
    Doctor,
    Clinic,
    Appointment,
    Prescription,
    PatientFile,
}

impl NodeType {
    const ALL: [NodeType; 7] = [
        NodeType::Patient,
        NodeType::User,
        NodeType::Doctor,
        NodeType::Clinic,
        NodeType::Appointment,
        NodeType::Prescription,
        NodeType::PatientFile,
    ];

    fn name(self) -> &'static str {
        match self {
            NodeType::Patient => "Patient",
            NodeType::User => "User",
            NodeType::Doctor => "Doctor",
            NodeType::Clinic => "Clinic",
            NodeType::Appointment => "Appointment",
            NodeType::Prescription => "Prescription",
            NodeType::PatientFile => "PatientFile",
        }
    }
}

/// Encodes a global id.
pub fn encode(node_type: NodeType, key: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{key}", node_type.name()))
}

/// Decodes any global id into its type and key; `None` for anything malformed.
pub fn decode(id: &str) -> Option<(NodeType, i64)> {
    let bytes = URL_SAFE_NO_PAD.decode(id).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    let (name, key) = text.split_once(':')?;
    let node_type = NodeType::ALL.into_iter().find(|t| t.name() == name)?;
    let key: i64 = key.parse().ok()?;
    // Only the canonical spelling is accepted, so one record has exactly one id.
    (key > 0 && encode(node_type, key) == id).then_some((node_type, key))
}

/// Decodes a global id that must be of `expected` type.
pub fn decode_as(expected: NodeType, id: &str) -> Option<i64> {
    match decode(id) {
        Some((node_type, key)) if node_type == expected => Some(key),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_other_types() {
        let id = encode(NodeType::Patient, 42);
        assert_eq!(decode(&id), Some((NodeType::Patient, 42)));
        assert_eq!(decode_as(NodeType::Patient, &id), Some(42));
        assert_eq!(decode_as(NodeType::Doctor, &id), None);
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "!!!",
            "UGF0aWVudA",
            &URL_SAFE_NO_PAD.encode("Patient:-1"),
        ] {
            assert_eq!(decode(bad), None, "{bad}");
        }
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode("Patient:007")), None);
    }
}
