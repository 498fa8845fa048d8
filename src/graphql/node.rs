//! The Relay `Node` interface and `node(id:)`.
use std::sync::Arc;

use async_graphql::{Context, ID, Interface, Object};

use super::guards::caller;
use crate::core::error::AppError;
use crate::core::ids::{self, NodeType};
use crate::modules::auth::resolvers::UserObject;
use crate::modules::auth::service::AuthService;
use crate::modules::patient::resolvers::PatientObject;
use crate::modules::patient::service::PatientService;

/// An object with a globally unique, opaque id.
#[derive(Interface)]
#[graphql(name = "Node", field(name = "id", ty = "ID"))]
pub enum Node {
    Patient(PatientObject),
    User(UserObject),
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Fetches any object by its global id, with the same access rules as its own query.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        let caller = caller(ctx)?;
        let Some((node_type, key)) = ids::decode(&id) else {
            return Err(AppError::NotFound("node").into());
        };
        match node_type {
            NodeType::Patient => {
                let patient = ctx.data::<Arc<PatientService>>()?.get(caller, key).await?;
                Ok(Some(Node::Patient(PatientObject(patient))))
            }
            NodeType::User => {
                let user = ctx.data::<Arc<AuthService>>()?.user(caller, key).await?;
                Ok(Some(Node::User(UserObject(user))))
            }
            NodeType::Doctor | NodeType::Clinic => Err(AppError::NotFound("node").into()),
        }
    }
}
