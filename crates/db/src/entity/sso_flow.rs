use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sso_flows")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The hash of the `state` sent to the provider.
    pub state_hash: String,
    pub connection_id: Uuid,
    /// `sign_in` or `test`.
    pub purpose: String,
    pub nonce: String,
    /// The PKCE verifier, sealed.
    pub verifier_sealed: String,
    /// The hash of the browser's flow cookie: the callback must come from the browser that left.
    pub browser_hash: Option<String>,
    pub login_hint: Option<String>,
    /// Who started a test.
    pub started_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub used_at: Option<DateTimeUtc>,
    pub link_hash: Option<String>,
    pub link_user_id: Option<Uuid>,
    pub link_subject: Option<String>,
    pub linked_at: Option<DateTimeUtc>,
    pub asserted_sealed: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
