//! Business rules of the Partner Portal: values parsed once at the boundary, token rules.

pub mod csv;
pub mod domains;
pub mod identity;
pub mod keys;
pub mod policy;
pub mod scopes;
pub mod sealed;
pub mod teams;
pub mod text;
pub mod token;
pub mod two_factor;
pub mod usage;
pub mod webhooks;

/// A request value that was rejected, naming the JSON field it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}
