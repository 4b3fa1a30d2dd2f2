use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sso_connections")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub team_id: Uuid,
    /// `oidc`.
    pub protocol: String,
    pub name: String,
    /// The provider's issuer URL, as its discovery document names it.
    pub issuer: String,
    pub client_id: String,
    /// Sealed with the server secret; never shown again.
    pub client_secret_sealed: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub last_sign_in_at: Option<DateTimeUtc>,
    /// The last "Test connection": when, the claims received (JSON), or why it failed.
    pub tested_at: Option<DateTimeUtc>,
    pub test_claims: Option<String>,
    pub test_error: Option<String>,
    pub saml_idp_metadata: Option<String>,
    pub saml_metadata_url: Option<String>,
    pub saml_certificate: Option<String>,
    pub allow_idp_initiated: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
