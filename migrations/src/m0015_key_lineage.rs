//! The key that made a key (`created_by_key`): when a key is found leaked or reported
//! compromised, the keys it made (and theirs) are revoked with it. Keys made before this version
//! have none recorded.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("api_keys").add_column(uuid_null("created_by_key")).take()).await?;
        manager
            .create_index(
                Index::create().name("idx_api_keys_created_by_key").table("api_keys").col("created_by_key").take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("idx_api_keys_created_by_key").table("api_keys").to_owned()).await?;
        manager.alter_table(Table::alter().table("api_keys").drop_column("created_by_key").take()).await
    }
}
