//! Where partners find help: the operator's links, shown by the web app.

use serde::{Deserialize, Serialize};

/// `GET /api/v1/help`: the portal's documentation, support and community, as its operator set
/// them (`PORTAL_DOCS_URL`, `PORTAL_SUPPORT_URL` or `PORTAL_SUPPORT_EMAIL`,
/// `PORTAL_COMMUNITY_URL`). A link the operator left empty is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HelpLinks {
    /// The API documentation: `/docs/` (this portal's) unless the operator chose another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docs_url: Option<String>,
    /// The support team's page, or a `mailto:` address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_url: Option<String>,
    /// The community forum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community_url: Option<String>,
}
