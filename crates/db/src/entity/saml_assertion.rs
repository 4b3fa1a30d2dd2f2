use sea_orm::entity::prelude::*;

/// A SAML assertion taken, kept until it expires: a replay finds it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saml_assertions")]
pub struct Model {
    /// The hash of the IdP's entity id and the assertion's `ID`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id_hash: String,
    pub connection_id: Uuid,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
