//! Whether a session still stands, and who its user is now, as every instance checks it for
//! each request: read from the database and kept here for [`RECHECK`] at most.
//!
//! The database is the one truth every instance shares, Redis configured or not; the short
//! local memory bounds its cost to one primary-key read per active session per instance per
//! second, and bounds how long a revocation, a role change or a disabled account goes unseen
//! by another instance to that second. A revocation made by this instance is seen at once.
use std::time::Duration;

use crate::core::auth::Caller;

/// How long an instance trusts what it read of a session.
pub const RECHECK: Duration = Duration::from_secs(1);

/// Sessions remembered at once (one per active session; about 100 bytes each).
const CAPACITY: u64 = 100_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// The session stands; its user as the account is now.
    Active(Caller),
    /// Revoked, expired, or its account disabled or gone.
    Ended,
}

pub struct Standings(moka::sync::Cache<i64, Standing>);

impl Standings {
    pub fn new() -> Self {
        Self(
            moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(RECHECK)
                .build(),
        )
    }

    pub fn get(&self, session_id: i64) -> Option<Standing> {
        self.0.get(&session_id)
    }

    pub fn keep(&self, session_id: i64, standing: Standing) {
        self.0.insert(session_id, standing);
    }

    /// This instance ended the session: no request here may pass on what it remembered.
    pub fn ended(&self, session_id: i64) {
        self.0.insert(session_id, Standing::Ended);
    }
}
