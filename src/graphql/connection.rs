//! Relay connections, one generic type for every list.
use std::borrow::Cow;

use async_graphql::{ContainerType, Context, OutputType, SelectionField, SimpleObject, TypeName};
use serde::Serialize;

use super::eager::{Eager, EagerList, PlainExecution};
use super::engine;
use super::pagination::PageInfo;
use crate::core::pagination::{Page, encode_cursor};
use crate::db::columns::Columns;

/// A connection, resolved as [`Eager`] resolves an object.
pub type Connection<T> = Eager<ConnectionObject<T>>;

// The doc comment is the schema's description of every connection type.
/// A page of a list, with its cursors.
#[derive(SimpleObject)]
#[graphql(name_type)]
pub struct ConnectionObject<T: ContainerType + Send + Sync>
where
    Edge<T>: ContainerType,
{
    /// How many items match, across all pages. Counted only when selected.
    pub total_count: i32,
    pub page_info: PageInfo,
    pub edges: EagerList<Edge<T>>,
    pub nodes: EagerList<T>,
}

#[derive(SimpleObject)]
#[graphql(name_type)]
pub struct Edge<T: OutputType>
where
    Eager<T>: OutputType,
{
    pub cursor: String,
    pub node: Eager<T>,
}

// Named after their item type (`PatientConnection`, `PatientEdge`), so this toolkit needs to
// know no module's objects.
impl<T: ContainerType + Send + Sync> TypeName for ConnectionObject<T>
where
    Edge<T>: ContainerType,
{
    fn type_name() -> Cow<'static, str> {
        Cow::Owned(format!("{}Connection", T::type_name()))
    }
}

impl<T: OutputType> TypeName for Edge<T>
where
    Eager<T>: OutputType,
{
    fn type_name() -> Cow<'static, str> {
        Cow::Owned(format!("{}Edge", T::type_name()))
    }
}

/// Whether the client selected `totalCount` on the connection this resolver returns, so the
/// count query runs only when someone reads it.
pub fn wants_total_count(ctx: &Context<'_>) -> bool {
    selects(ctx, &["totalCount"])
}

/// Whether the selection of the field being resolved reaches `path` (field names, aliases
/// ignored, through fragments), like async-graphql's `look_ahead`, which allocates a list at
/// every step: nested pages ask this of each parent, several times.
pub fn selects(ctx: &Context<'_>, path: &[&str]) -> bool {
    if ctx.data_opt::<PlainExecution>().is_some() {
        return field_reaches(ctx.field(), path);
    }
    engine::reaches(ctx, path)
}

/// Whether the nodes of the connection being resolved select `field`, through `nodes` or
/// `edges { node }`.
pub fn nodes_select(ctx: &Context<'_>, field: &str) -> bool {
    selects(ctx, &["nodes", field]) || selects(ctx, &["edges", "node", field])
}

/// The columns the nodes of the connection being resolved read (through `nodes` or
/// `edges { node }`, fragments included): the union of `columns_of` each selected field, and
/// every column if a field is one `columns_of` does not know (`None`).
pub fn node_columns(ctx: &Context<'_>, columns_of: impl Fn(&str) -> Option<Columns>) -> Columns {
    columns_at(ctx, &[&["nodes"], &["edges", "node"]], columns_of)
}

/// The columns the items of the list being resolved read, as [`node_columns`] says.
pub fn item_columns(ctx: &Context<'_>, columns_of: impl Fn(&str) -> Option<Columns>) -> Columns {
    columns_at(ctx, &[&[]], columns_of)
}

fn columns_at(
    ctx: &Context<'_>,
    paths: &[&[&str]],
    columns_of: impl Fn(&str) -> Option<Columns>,
) -> Columns {
    let mut columns = Columns::of(0);
    let mut add = |name: &str| {
        columns = columns.with(match name {
            "__typename" => Columns::of(0),
            name => columns_of(name).unwrap_or(Columns::ALL),
        });
    };
    let plain = ctx.data_opt::<PlainExecution>().is_some();
    for path in paths {
        if plain {
            each_field_of(ctx.field(), path, &mut add);
        } else {
            engine::each_field_at(ctx, path, &mut add);
        }
    }
    columns
}

/// [`selects`] through async-graphql's documented API, for plain execution.
fn field_reaches(field: SelectionField<'_>, path: &[&str]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return true;
    };
    field
        .selection_set()
        .any(|child| child.name() == *first && field_reaches(child, rest))
}

/// Calls `visit` with the name of every field selected at `path` below `field`, through
/// async-graphql's documented API, for plain execution.
fn each_field_of<'a>(field: SelectionField<'a>, path: &[&str], visit: &mut impl FnMut(&'a str)) {
    match path.split_first() {
        None => field.selection_set().for_each(|child| visit(child.name())),
        Some((first, rest)) => {
            for child in field.selection_set().filter(|child| child.name() == *first) {
                each_field_of(child, rest, visit);
            }
        }
    }
}

impl<T: ContainerType + Send + Sync + Clone> Connection<T>
where
    Edge<T>: ContainerType,
{
    /// Builds the connection of `page`; `cursor_of` gives each row's cursor key. Cursors and
    /// edges cost an encoding and a copy per row, so only what the client selected is built.
    pub fn build<R, K: Serialize>(
        ctx: &Context<'_>,
        page: Page<R>,
        total_count: Option<i64>,
        cursor_of: impl Fn(&R) -> K,
        node_of: impl Fn(R) -> T,
    ) -> Self {
        let wants_edges = selects(ctx, &["edges"]);
        let wants_page_info = selects(ctx, &["pageInfo"]);
        let cursors: Vec<String> = if wants_edges {
            page.items
                .iter()
                .map(|row| encode_cursor(&cursor_of(row)))
                .collect()
        } else {
            Vec::new()
        };
        let (start_cursor, end_cursor) = match (wants_edges, wants_page_info) {
            (true, _) => (cursors.first().cloned(), cursors.last().cloned()),
            (false, true) => (
                page.items.first().map(|row| encode_cursor(&cursor_of(row))),
                page.items.last().map(|row| encode_cursor(&cursor_of(row))),
            ),
            (false, false) => (None, None),
        };
        let page_info = PageInfo {
            has_next_page: page.has_next_page,
            has_previous_page: page.has_previous_page,
            start_cursor,
            end_cursor,
        };
        // Building a node records its read in the audit trail: only rows the client sees.
        let nodes: Vec<Eager<T>> = if wants_edges || selects(ctx, &["nodes"]) {
            page.items
                .into_iter()
                .map(|row| Eager(node_of(row)))
                .collect()
        } else {
            Vec::new()
        };
        let edges = cursors
            .into_iter()
            .zip(&nodes)
            .map(|(cursor, node)| {
                Eager(Edge {
                    cursor,
                    node: node.clone(),
                })
            })
            .collect();
        Eager(ConnectionObject {
            total_count: total_count.map_or(0, |n| i32::try_from(n).unwrap_or(i32::MAX)),
            page_info,
            edges: EagerList(edges),
            nodes: EagerList(nodes),
        })
    }
}

/// A top-level connection of `page`; `count` runs only when the client selected `totalCount`.
pub async fn respond<T, R, K>(
    ctx: &Context<'_>,
    page: Page<R>,
    count: impl std::future::Future<Output = crate::core::error::AppResult<i64>>,
    cursor_of: impl Fn(&R) -> K,
    node_of: impl Fn(R) -> T,
) -> async_graphql::Result<Connection<T>>
where
    T: ContainerType + Send + Sync + Clone,
    Edge<T>: ContainerType,
    K: Serialize,
{
    let total = if wants_total_count(ctx) {
        Some(count.await?)
    } else {
        None
    };
    Ok(Connection::build(ctx, page, total, cursor_of, node_of))
}

/// The complexity of a list field: its page size (`first` or `last`, default 20, counted as at
/// most 100 since more is refused anyway) times what each item selects.
pub fn page_cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let size = first
        .or(last)
        .map_or(crate::core::pagination::DEFAULT_PAGE_SIZE, |n| {
            usize::try_from(n).unwrap_or(0)
        })
        .min(crate::core::pagination::MAX_PAGE_SIZE);
    size.saturating_mul(child_complexity).saturating_add(1)
}

/// The size of a nested list (`first`, default 20, at most 100, never silently cut).
pub fn nested_size(first: Option<i32>) -> crate::core::error::AppResult<usize> {
    let request = crate::core::pagination::ConnectionArgs {
        first,
        ..Default::default()
    }
    .parse::<crate::core::pagination::KeyCursor>()?;
    Ok(request.limit)
}

/// The page of a nested list whose loader fetched one row more than `size`.
pub fn nested_page<R>(rows: Vec<R>, size: usize) -> Page<R> {
    let request = crate::core::pagination::PageRequest::<()> {
        limit: size,
        direction: crate::core::pagination::Direction::Forward,
        cursor: None,
    };
    Page::from_rows(rows, &request)
}
