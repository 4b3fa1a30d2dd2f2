use serde::{Deserialize, Serialize};

/// The media type of every error answer (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer: `application/problem+json` (RFC 9457) with a stable machine-readable `code`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// A URI reference naming the problem type (`about:blank` or `/problems/{code}`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Short human-readable summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// Human-readable explanation of this occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Stable machine-readable error code, e.g. `validation_failed`, `invalid_credentials`.
    pub code: String,
    /// For validation errors: the request field that was rejected (JSON name, dotted for nesting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}
