use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "team_domains")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub team_id: Uuid,
    /// Lower case, without a final dot.
    pub domain: String,
    /// What the TXT record must say after `pp-verify=`.
    pub token: String,
    /// `invitations`, `suggest` or `automatic`.
    pub join_rule: String,
    pub created_at: DateTimeUtc,
    pub verified_at: Option<DateTimeUtc>,
    pub checked_at: Option<DateTimeUtc>,
    pub check_error: Option<String>,
    /// The last lookup that found the record (verified domains are looked up again).
    pub confirmed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
