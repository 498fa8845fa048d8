use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::{NewUser, UserRow};
use crate::db::schema::users;
use crate::db::{DbPool, DbResult};
use crate::with_conn;

#[async_trait]
pub trait UserRepository: Send + Sync {
    async fn find_by_email(&self, email: &str) -> DbResult<Option<UserRow>>;
    async fn find(&self, clinic_id: i64, id: i64) -> DbResult<Option<UserRow>>;
    async fn insert(&self, user: NewUser) -> DbResult<UserRow>;
    async fn any_exist(&self) -> DbResult<bool>;
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
        with_conn!(&self.pool, |conn| Ok(diesel::insert_into(users::table)
            .values(&user)
            .returning(UserRow::as_returning())
            .get_result(conn)
            .await?))
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
}
