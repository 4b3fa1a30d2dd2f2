use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_minutes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub key_id: Uuid,
    pub team_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub minute: DateTimeUtc,
    #[sea_orm(primary_key, auto_increment = false)]
    pub status: i32,
    pub count: i64,
    pub latency_us_sum: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
