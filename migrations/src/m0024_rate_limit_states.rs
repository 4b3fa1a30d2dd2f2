//! Per-key rate limits shared by every instance (`PORTAL_RATE_LIMIT_SCOPE=cluster`, PostgreSQL):
//! one row per limited key holding its GCRA state, the theoretical arrival time (`tat`, in
//! microseconds since the epoch on the database's clock), advanced by one conditional upsert per
//! request.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("rate_limit_states")
                    .col(uuid("key_id").primary_key())
                    .col(big_integer("tat"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_rate_limit_states_key")
                            .from("rate_limit_states", "key_id")
                            .to("api_keys", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(Index::create().name("ix_rate_limit_states_tat").table("rate_limit_states").col("tat").take())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("rate_limit_states").take()).await
    }
}
