//! When a key was reported compromised (`compromised_at`): its list row and its page say so,
//! with its replacement (`replaced_by`, as a rolled key's). Keys reported before this version are
//! shown as revoked; the activity log keeps their reports.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table("api_keys").add_column(timestamp_with_time_zone_null("compromised_at")).take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("api_keys").drop_column("compromised_at").take()).await
    }
}
