//! The sessions' rows: the only session code that touches diesel.
use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::{EndReason, NewSession, SessionRow};
use crate::db::schema::{sessions, users};
use crate::db::{DbPool, DbResult};
use crate::modules::auth::model::UserRow;
use crate::{in_transaction, insert_returning, single_write, with_conn};

/// The sessions of one user that have not ended by a moment.
#[derive(Debug, Clone, Copy)]
pub struct LiveAt {
    pub user_id: i64,
    pub clinic_id: i64,
    pub now: NaiveDateTime,
    /// Sessions last used before this have ended idle.
    pub idle_since: NaiveDateTime,
}

#[async_trait]
pub trait SessionRepository: Send + Sync {
    async fn insert(&self, session: NewSession) -> DbResult<SessionRow>;
    async fn find(&self, id: i64) -> DbResult<Option<SessionRow>>;
    /// The session with its user's account as it is now.
    async fn with_user(&self, id: i64) -> DbResult<Option<(SessionRow, UserRow)>>;
    /// Replaces the refresh token of generation `from` with the next one; false if the session
    /// is no longer at `from` (another refresh won) or was revoked.
    async fn rotate(
        &self,
        id: i64,
        from: i64,
        new_hash: &str,
        old_hash: &str,
        at: NaiveDateTime,
    ) -> DbResult<bool>;
    /// Ends the session; false if it had already ended.
    async fn revoke(&self, id: i64, at: NaiveDateTime, reason: EndReason) -> DbResult<bool>;
    /// Ends every session of the user but `except`; the ids it ended.
    async fn revoke_all(
        &self,
        user_id: i64,
        except: Option<i64>,
        at: NaiveDateTime,
        reason: EndReason,
    ) -> DbResult<Vec<i64>>;
    /// Live sessions, newest first, after the session `after`, at most `limit`.
    async fn live(&self, of: LiveAt, after: Option<i64>, limit: usize)
    -> DbResult<Vec<SessionRow>>;
    async fn count_live(&self, of: LiveAt) -> DbResult<i64>;
    /// Deletes sessions that ended before `before` (revoked, or past their absolute end, or
    /// last used before `idle_before`); how many.
    async fn delete_ended(
        &self,
        before: NaiveDateTime,
        idle_before: NaiveDateTime,
    ) -> DbResult<usize>;
}

pub struct DieselSessionRepository {
    pool: DbPool,
}

impl DieselSessionRepository {
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

/// The live sessions `$of` names.
macro_rules! live {
    ($query:expr, $of:expr) => {{
        let of: LiveAt = $of;
        $query
            .filter(sessions::user_id.eq(of.user_id))
            .filter(sessions::clinic_id.eq(of.clinic_id))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(of.now))
            .filter(sessions::last_used_at.gt(of.idle_since))
    }};
}

#[async_trait]
impl SessionRepository for DieselSessionRepository {
    async fn insert(&self, session: NewSession) -> DbResult<SessionRow> {
        in_transaction!(&self.pool, |conn| Ok(insert_returning!(
            conn, sessions, &session, SessionRow
        )))
    }

    async fn find(&self, id: i64) -> DbResult<Option<SessionRow>> {
        with_conn!(&self.pool, |conn| Ok(sessions::table
            .find(id)
            .select(SessionRow::as_select())
            .first(conn)
            .await
            .optional()?))
    }

    async fn with_user(&self, id: i64) -> DbResult<Option<(SessionRow, UserRow)>> {
        with_conn!(&self.pool, |conn| Ok(sessions::table
            .inner_join(users::table)
            .filter(sessions::id.eq(id))
            .select((SessionRow::as_select(), UserRow::as_select()))
            .first(conn)
            .await
            .optional()?))
    }

    async fn rotate(
        &self,
        id: i64,
        from: i64,
        new_hash: &str,
        old_hash: &str,
        at: NaiveDateTime,
    ) -> DbResult<bool> {
        single_write!(&self.pool, |conn| {
            let changed = diesel::update(
                sessions::table
                    .filter(sessions::id.eq(id))
                    .filter(sessions::generation.eq(from))
                    .filter(sessions::revoked_at.is_null()),
            )
            .set((
                sessions::generation.eq(from + 1),
                sessions::refresh_hash.eq(new_hash),
                sessions::previous_hash.eq(Some(old_hash)),
                sessions::rotated_at.eq(Some(at)),
                sessions::last_used_at.eq(at),
            ))
            .execute(conn)
            .await?;
            Ok(changed == 1)
        })
    }

    async fn revoke(&self, id: i64, at: NaiveDateTime, reason: EndReason) -> DbResult<bool> {
        single_write!(&self.pool, |conn| {
            let changed = diesel::update(
                sessions::table
                    .filter(sessions::id.eq(id))
                    .filter(sessions::revoked_at.is_null()),
            )
            .set((
                sessions::revoked_at.eq(Some(at)),
                sessions::revoked_reason.eq(Some(reason.as_str())),
            ))
            .execute(conn)
            .await?;
            Ok(changed == 1)
        })
    }

    async fn revoke_all(
        &self,
        user_id: i64,
        except: Option<i64>,
        at: NaiveDateTime,
        reason: EndReason,
    ) -> DbResult<Vec<i64>> {
        let except = except.unwrap_or(0);
        in_transaction!(&self.pool, |conn| {
            let ids: Vec<i64> = sessions::table
                .filter(sessions::user_id.eq(user_id))
                .filter(sessions::revoked_at.is_null())
                .filter(sessions::id.ne(except))
                .select(sessions::id)
                .load(conn)
                .await?;
            diesel::update(sessions::table.filter(sessions::id.eq_any(&ids)))
                .set((
                    sessions::revoked_at.eq(Some(at)),
                    sessions::revoked_reason.eq(Some(reason.as_str())),
                ))
                .execute(conn)
                .await?;
            Ok(ids)
        })
    }

    async fn live(
        &self,
        of: LiveAt,
        after: Option<i64>,
        limit: usize,
    ) -> DbResult<Vec<SessionRow>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        with_conn!(&self.pool, |conn| {
            let mut query = live!(sessions::table.into_boxed(), of);
            if let Some(after) = after {
                query = query.filter(sessions::id.lt(after));
            }
            Ok(query
                .order(sessions::id.desc())
                .limit(limit)
                .select(SessionRow::as_select())
                .load(conn)
                .await?)
        })
    }

    async fn count_live(&self, of: LiveAt) -> DbResult<i64> {
        with_conn!(&self.pool, |conn| Ok(live!(sessions::table, of)
            .count()
            .get_result(conn)
            .await?))
    }

    async fn delete_ended(
        &self,
        before: NaiveDateTime,
        idle_before: NaiveDateTime,
    ) -> DbResult<usize> {
        single_write!(&self.pool, |conn| Ok(diesel::delete(
            sessions::table.filter(
                sessions::revoked_at
                    .lt(before)
                    .or(sessions::expires_at.lt(before))
                    .or(sessions::last_used_at.lt(idle_before))
            )
        )
        .execute(conn)
        .await?))
    }
}
