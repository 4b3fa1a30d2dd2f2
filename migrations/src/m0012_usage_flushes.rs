//! Each usage flush records its id in the transaction that writes its counts. A commit that
//! reports an error may still have committed (the connection failed after COMMIT was sent, as
//! pooled connections do when the server stops and their runtime goes): the retry finds the id
//! and does not count the batch a second time. Ids older than a day are pruned.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("usage_flushes")
                    .col(pk_uuid("id"))
                    // Seconds since the epoch, as the usage tiers store time.
                    .col(big_integer("flushed_at"))
                    .take(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_usage_flushes_at").table("usage_flushes").col("flushed_at").take())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("usage_flushes").take()).await
    }
}
