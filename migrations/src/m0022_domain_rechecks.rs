//! Verified domains are looked up again (`confirmed_at`: the last lookup that found the record).
//! A domain whose record has been missing for the grace period is no longer verified: a domain
//! that changed hands stops sending its people to the old team's identity provider. Domains
//! verified before this version count as confirmed when they were verified.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table("team_domains").add_column(timestamp_with_time_zone_null("confirmed_at")).take(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared("UPDATE team_domains SET confirmed_at = verified_at WHERE verified_at IS NOT NULL")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("team_domains").drop_column("confirmed_at").take()).await
    }
}
