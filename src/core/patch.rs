//! Partial updates: for each field, keep it, clear it or set it.

/// One field of a create or update, as the client sent it.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Patch<T> {
    /// Not sent: keep the current value (on create: nothing).
    #[default]
    Keep,
    /// Sent as null.
    Clear,
    Set(T),
}

impl<T> Patch<T> {
    /// The value after applying this patch to `current`.
    pub fn apply(self, current: Option<T>) -> Option<T> {
        match self {
            Patch::Keep => current,
            Patch::Clear => None,
            Patch::Set(value) => Some(value),
        }
    }
}

impl<T> From<async_graphql::MaybeUndefined<T>> for Patch<T> {
    fn from(value: async_graphql::MaybeUndefined<T>) -> Self {
        match value {
            async_graphql::MaybeUndefined::Undefined => Patch::Keep,
            async_graphql::MaybeUndefined::Null => Patch::Clear,
            async_graphql::MaybeUndefined::Value(v) => Patch::Set(v),
        }
    }
}
