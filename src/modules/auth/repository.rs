use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::{NewUser, UserRow};
use crate::db::schema::users;
use crate::db::{DbPool, DbResult};
use crate::{in_transaction, insert_returning, single_write, with_conn};

#[async_trait]
pub trait UserRepository: Send + Sync {
    async fn find_by_email(&self, email: &str) -> DbResult<Option<UserRow>>;
    async fn find(&self, clinic_id: i64, id: i64) -> DbResult<Option<UserRow>>;
    async fn insert(&self, user: NewUser) -> DbResult<UserRow>;
    async fn any_exist(&self) -> DbResult<bool>;
    /// Sets or clears `disabled_at` of the account with `email`; whether there was one.
    async fn set_disabled(
        &self,
        email: &str,
        disabled_at: Option<NaiveDateTime>,
        at: NaiveDateTime,
    ) -> DbResult<bool>;
    /// Replaces the account's password hash.
    async fn set_password(&self, id: i64, password_hash: &str, at: NaiveDateTime) -> DbResult<()>;
    /// Gives the account with `email` another role; the account as it is now, if there is one.
    async fn set_role(
        &self,
        email: &str,
        role: &str,
        at: NaiveDateTime,
    ) -> DbResult<Option<UserRow>>;
    /// Erases what identifies the account and lets it in (email, name, password hash), and
    /// disables it; the row stays, since jobs and profiles refer to it. Whether there was one.
    async fn erase(&self, email: &str, at: NaiveDateTime) -> DbResult<bool>;
}

pub struct DieselUserRepository {
    pool: DbPool,
}

impl DieselUserRepository {
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl UserRepository for DieselUserRepository {
    async fn find_by_email(&self, email: &str) -> DbResult<Option<UserRow>> {
        with_conn!(&self.pool, |conn| Ok(users::table
            .filter(users::email.eq(email))
            .select(UserRow::as_select())
            .first(conn)
            .await
            .optional()?))
    }

    async fn find(&self, clinic_id: i64, id: i64) -> DbResult<Option<UserRow>> {
        with_conn!(&self.pool, |conn| Ok(users::table
            .filter(users::id.eq(id))
            .filter(users::clinic_id.eq(clinic_id))
            .select(UserRow::as_select())
            .first(conn)
            .await
            .optional()?))
    }

    async fn insert(&self, user: NewUser) -> DbResult<UserRow> {
        in_transaction!(&self.pool, |conn| Ok(insert_returning!(
            conn, users, &user, UserRow
        )))
    }

    async fn any_exist(&self) -> DbResult<bool> {
        with_conn!(&self.pool, |conn| {
            let first: Option<i64> = users::table
                .select(users::id)
                .first(conn)
                .await
                .optional()?;
            Ok(first.is_some())
        })
    }

    async fn set_disabled(
        &self,
        email: &str,
        disabled_at: Option<NaiveDateTime>,
        at: NaiveDateTime,
    ) -> DbResult<bool> {
        single_write!(&self.pool, |conn| {
            let changed = diesel::update(users::table.filter(users::email.eq(email)))
                .set((users::disabled_at.eq(disabled_at), users::updated_at.eq(at)))
                .execute(conn)
                .await?;
            Ok(changed > 0)
        })
    }

    async fn set_password(&self, id: i64, password_hash: &str, at: NaiveDateTime) -> DbResult<()> {
        single_write!(&self.pool, |conn| {
            diesel::update(users::table.find(id))
                .set((
                    users::password_hash.eq(password_hash),
                    users::updated_at.eq(at),
                ))
                .execute(conn)
                .await?;
            Ok(())
        })
    }

    async fn set_role(
        &self,
        email: &str,
        role: &str,
        at: NaiveDateTime,
    ) -> DbResult<Option<UserRow>> {
        single_write!(&self.pool, |conn| {
            diesel::update(users::table.filter(users::email.eq(email)))
                .set((users::role.eq(role), users::updated_at.eq(at)))
                .execute(conn)
                .await?;
            Ok(users::table
                .filter(users::email.eq(email))
                .select(UserRow::as_select())
                .first(conn)
                .await
                .optional()?)
        })
    }

    async fn erase(&self, email: &str, at: NaiveDateTime) -> DbResult<bool> {
        single_write!(&self.pool, |conn| {
            let Some(id) = users::table
                .filter(users::email.eq(email))
                .select(users::id)
                .first::<i64>(conn)
                .await
                .optional()?
            else {
                return Ok(false);
            };
            // `.invalid` never receives mail (RFC 2606), and the id keeps the address unique.
            let placeholder = format!("deleted-account-{id}@deleted.invalid");
            diesel::update(users::table.find(id))
                .set((
                    users::email.eq(placeholder),
                    users::name.eq("Deleted account"),
                    // Not a PHC string: no password ever matches it.
                    users::password_hash.eq("!"),
                    users::disabled_at.eq(Some(at)),
                    users::updated_at.eq(at),
                ))
                .execute(conn)
                .await?;
            Ok(true)
        })
    }
}
