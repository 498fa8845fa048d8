//! What a resolver of a nested list returns: a page of it (a connection) or all of it (a list),
//! read through the loaders, with only the columns and doctors the selection asks for.
use async_graphql::{ContainerType, Context, Result};

use super::{CountOf, ListOf, NestedList, PageBatch, PageList};
use crate::core::pagination::MAX_PAGE_SIZE;
use crate::graphql::connection::{
    Connection, Edge, item_columns, nested_page, nested_size, node_columns, nodes_select, selects,
    wants_total_count,
};
use crate::modules::doctor::WithDoctor;
use crate::modules::loaders::{loaders, owned};

/// The first `first` rows of the list `L` under the parent `id`, as a connection of the nodes
/// `node` makes; through `page`, the batch of the page the parent is on, if any.
pub async fn connection<L, T>(
    ctx: &Context<'_>,
    parent: L::Parent,
    id: i64,
    filter: L::Filter,
    first: Option<i32>,
    page: Option<&PageList<L>>,
    node: impl Fn(WithDoctor<L::Row>) -> T,
) -> Result<Connection<T>>
where
    L: NestedList,
    T: ContainerType + Send + Sync + Clone,
    Edge<T>: ContainerType,
{
    let size = nested_size(first)?;
    let loader = loaders(ctx)?;
    let key = ListOf::<L> {
        parent,
        id,
        filter: filter.clone(),
        fetch: size + 1,
        columns: node_columns(ctx, L::columns_of),
        with_doctors: nodes_select(ctx, L::DOCTOR_FIELD),
    };
    let rows = PageBatch::load(page, loader, key).await?;
    let rows = rows.map(owned).unwrap_or_default();
    let total = if wants_total_count(ctx) {
        let key = CountOf::<L> { parent, id, filter };
        Some(loader.load_one(key).await?.unwrap_or(0))
    } else {
        None
    };
    Ok(Connection::build(
        ctx,
        nested_page(rows, size),
        total,
        |row| L::cursor(&row.row),
        node,
    ))
}

/// The rows of the list `L` under the parent `id` (at most [`MAX_PAGE_SIZE`]), as the items
/// `item` makes.
pub async fn list<L: NestedList, T>(
    ctx: &Context<'_>,
    parent: L::Parent,
    id: i64,
    item: impl Fn(WithDoctor<L::Row>) -> T,
) -> Result<Vec<T>> {
    let key = ListOf::<L> {
        parent,
        id,
        filter: L::Filter::default(),
        fetch: MAX_PAGE_SIZE,
        columns: item_columns(ctx, L::columns_of),
        with_doctors: selects(ctx, &[L::DOCTOR_FIELD]),
    };
    let rows = loaders(ctx)?.load_one(key).await?.map(owned);
    Ok(rows.unwrap_or_default().into_iter().map(item).collect())
}

/// The number of rows of the list `L` under the parent `id` matching `filter`.
pub async fn count<L: NestedList>(
    ctx: &Context<'_>,
    parent: L::Parent,
    id: i64,
    filter: L::Filter,
) -> Result<i64> {
    let key = CountOf::<L> { parent, id, filter };
    Ok(loaders(ctx)?.load_one(key).await?.unwrap_or(0))
}
