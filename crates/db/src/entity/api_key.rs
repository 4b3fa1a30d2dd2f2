use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub team_id: Uuid,
    pub name: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    pub environment: String,
    #[sea_orm(unique)]
    pub key_hash: String,
    pub hint: String,
    pub created_by: Option<Uuid>,
    /// The key that made this one, if a key did (revoked with it when it leaks).
    pub created_by_key: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub grace_until: Option<DateTimeUtc>,
    pub replaced_by: Option<Uuid>,
    pub usage_limit: Option<i64>,
    pub last_used_at: Option<DateTimeUtc>,
    pub request_count: i64,
    pub rate_limit_per_second: Option<i32>,
    pub rate_limit_burst: Option<i32>,
    /// Scope names separated by spaces.
    #[sea_orm(column_type = "Text")]
    pub scopes: String,
    /// Addresses and CIDR blocks separated by spaces; None: anywhere.
    #[sea_orm(column_type = "Text", nullable)]
    pub allowed_ips: Option<String>,
    /// Percentages separated by spaces.
    pub alert_thresholds: String,
    pub leaked_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub leak_url: Option<String>,
    pub leak_source: Option<String>,
    /// The name as searched: `api_keys::search_text` of it.
    #[sea_orm(column_type = "Text")]
    pub search_name: String,
    /// When the key was reported compromised (and so revoked).
    pub compromised_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
