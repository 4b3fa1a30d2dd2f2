//! Request budgets kept in the database (sign-ins per address, failures per account, invitations
//! per team): one row per key and fixed window, counted by a conditional upsert, so that a budget
//! holds under concurrency and across instances. Rows of past windows are pruned.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("rate_budgets")
                    .col(string("key"))
                    // Seconds since the epoch at which the window started.
                    .col(big_integer("window_start"))
                    .col(integer("used"))
                    .primary_key(Index::create().col("key").col("window_start"))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_rate_budgets_window").table("rate_budgets").col("window_start").take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("rate_budgets").take()).await
    }
}
