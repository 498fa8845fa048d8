//! The keys' rows: the only idempotency code that touches diesel.
use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::{Claim, Fingerprint, IdempotencyKey, StoredAnswer};
use crate::core::sealing::fields::IDEMPOTENCY_BODY;
use crate::core::sealing::{DataKeys, Sealed};
use crate::db::schema::idempotency_keys;
use crate::db::{DbError, DbPool, DbResult};
use crate::{in_transaction, with_conn};

/// Whose keys: a key is one caller's, in one clinic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub clinic_id: i64,
    pub user_id: i64,
}

/// When a use of a key no longer counts.
#[derive(Debug, Clone, Copy)]
pub struct Horizon {
    /// Uses created before this have expired: the key is free again.
    pub expired_before: NaiveDateTime,
    /// A request still running since before this was abandoned (its process stopped): the
    /// same request may run again.
    pub abandoned_before: NaiveDateTime,
}

#[async_trait]
pub trait IdempotencyRepository: Send + Sync {
    /// Claims `key` for the request with `fingerprint` at `now` (see [`Claim`]).
    async fn claim(
        &self,
        owner: Owner,
        key: &IdempotencyKey,
        fingerprint: &Fingerprint,
        now: NaiveDateTime,
        horizon: Horizon,
    ) -> DbResult<Claim>;
    /// Stores the answer of the request that claimed `key`.
    async fn complete(
        &self,
        owner: Owner,
        key: &IdempotencyKey,
        answer: &StoredAnswer,
        at: NaiveDateTime,
    ) -> DbResult<()>;
    /// Frees a claimed key whose request left no answer to replay.
    async fn release(&self, owner: Owner, key: &IdempotencyKey) -> DbResult<()>;
    /// Deletes the uses created before `before`; returns how many.
    async fn delete_expired(&self, before: NaiveDateTime) -> DbResult<usize>;
}

pub struct DieselIdempotencyRepository {
    pool: DbPool,
    /// Seals the kept answers, which may hold any sealed field of the records they show.
    keys: Arc<DataKeys>,
}

impl DieselIdempotencyRepository {
    pub fn new(pool: DbPool, keys: Arc<DataKeys>) -> Self {
        Self { pool, keys }
    }
}

/// What a kept answer is bound to: its key, of its caller in its clinic.
fn binding(owner: Owner, key: &IdempotencyKey) -> String {
    format!("{}/{}/{}", owner.clinic_id, owner.user_id, key.as_str())
}

#[derive(Insertable)]
#[diesel(table_name = idempotency_keys)]
struct NewKey<'a> {
    clinic_id: i64,
    user_id: i64,
    idempotency_key: &'a str,
    fingerprint: &'a str,
    created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = idempotency_keys)]
struct KeyRow {
    fingerprint: String,
    status: Option<i32>,
    content_type: Option<String>,
    body: Option<Sealed>,
    created_at: NaiveDateTime,
    completed_at: Option<NaiveDateTime>,
}

/// The row of `$key` of `$owner`.
macro_rules! key_row {
    ($owner:expr, $key:expr) => {
        idempotency_keys::table.find(($owner.clinic_id, $owner.user_id, $key.as_str()))
    };
}

#[async_trait]
impl IdempotencyRepository for DieselIdempotencyRepository {
    async fn claim(
        &self,
        owner: Owner,
        key: &IdempotencyKey,
        fingerprint: &Fingerprint,
        now: NaiveDateTime,
        horizon: Horizon,
    ) -> DbResult<Claim> {
        let new = NewKey {
            clinic_id: owner.clinic_id,
            user_id: owner.user_id,
            idempotency_key: key.as_str(),
            fingerprint: fingerprint.as_str(),
            created_at: now,
        };
        // One transaction: two requests with one key meet at the primary key, and exactly one
        // of them inserts.
        in_transaction!(&self.pool, |conn| {
            use diesel_async::AsyncConnection as _;
            // In a savepoint: a failed statement would end PostgreSQL's transaction. The
            // conflict is the primary key's, as MySQL has no `ON CONFLICT DO NOTHING` whose
            // answer tells an insert from a conflict.
            let inserted = conn
                .transaction(async |conn| -> DbResult<usize> {
                    Ok(diesel::insert_into(idempotency_keys::table)
                        .values(&new)
                        .execute(conn)
                        .await?)
                })
                .await;
            match inserted {
                Ok(_) => return Ok(Claim::Run),
                Err(DbError::UniqueViolation(_)) => {}
                Err(error) => return Err(error),
            }
            let found: KeyRow = key_row!(owner, key)
                .select(KeyRow::as_select())
                .first(conn)
                .await?;
            let same = found.fingerprint == fingerprint.as_str();
            let expired = found.created_at < horizon.expired_before;
            let abandoned =
                same && found.completed_at.is_none() && found.created_at < horizon.abandoned_before;
            if expired || abandoned {
                diesel::update(key_row!(owner, key))
                    .set((
                        idempotency_keys::fingerprint.eq(fingerprint.as_str()),
                        idempotency_keys::status.eq(None::<i32>),
                        idempotency_keys::content_type.eq(None::<String>),
                        idempotency_keys::body.eq(None::<String>),
                        idempotency_keys::created_at.eq(now),
                        idempotency_keys::completed_at.eq(None::<NaiveDateTime>),
                    ))
                    .execute(conn)
                    .await?;
                return Ok(Claim::Run);
            }
            if !same {
                return Ok(Claim::Reused);
            }
            let status = found.status.and_then(|status| u16::try_from(status).ok());
            Ok(match (status, found.content_type, found.body) {
                (Some(status), Some(content_type), Some(body)) => {
                    let bound = binding(owner, key);
                    match self.keys.open_keyed(IDEMPOTENCY_BODY, &bound, &body) {
                        Ok(body) => Claim::Replay(StoredAnswer {
                            status,
                            content_type,
                            body,
                        }),
                        Err(_) => Claim::Unreadable,
                    }
                }
                _ => Claim::InFlight,
            })
        })
    }

    async fn complete(
        &self,
        owner: Owner,
        key: &IdempotencyKey,
        answer: &StoredAnswer,
        at: NaiveDateTime,
    ) -> DbResult<()> {
        let body = self
            .keys
            .seal_keyed(IDEMPOTENCY_BODY, &binding(owner, key), &answer.body);
        // Writing the same answer twice leaves the row as once: retried like a read.
        with_conn!(&self.pool, |conn| {
            diesel::update(key_row!(owner, key))
                .set((
                    idempotency_keys::status.eq(Some(i32::from(answer.status))),
                    idempotency_keys::content_type.eq(Some(answer.content_type.as_str())),
                    idempotency_keys::body.eq(Some(&body)),
                    idempotency_keys::completed_at.eq(Some(at)),
                ))
                .execute(conn)
                .await?;
            Ok(())
        })
    }

    async fn release(&self, owner: Owner, key: &IdempotencyKey) -> DbResult<()> {
        // Repeating the delete deletes nothing more: retried like a read.
        with_conn!(&self.pool, |conn| {
            diesel::delete(key_row!(owner, key).filter(idempotency_keys::completed_at.is_null()))
                .execute(conn)
                .await?;
            Ok(())
        })
    }

    async fn delete_expired(&self, before: NaiveDateTime) -> DbResult<usize> {
        with_conn!(&self.pool, |conn| Ok(diesel::delete(
            idempotency_keys::table.filter(idempotency_keys::created_at.lt(before))
        )
        .execute(conn)
        .await?))
    }
}
