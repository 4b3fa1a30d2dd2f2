//! A team's domains (`team_domains`): a team proves it owns a domain with a DNS TXT record, and
//! chooses who with an address there may join without an invitation. A domain is verified by one
//! team at a time (a unique index over the verified ones), and any number may wait for their
//! record.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("team_domains")
                    .col(pk_uuid("id"))
                    .col(uuid("team_id"))
                    .col(string_len("domain", 253))
                    .col(string_len("token", 64))
                    .col(string_len("join_rule", 16).default("invitations"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("verified_at"))
                    .col(timestamp_with_time_zone_null("checked_at"))
                    .col(string_len_null("check_error", 500))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_team_domains_team")
                            .from("team_domains", "team_id")
                            .to("teams", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_team_domains_team_domain")
                    .table("team_domains")
                    .col("team_id")
                    .col("domain")
                    .unique()
                    .take(),
            )
            .await?;
        // The same SQL on SQLite and PostgreSQL.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX uq_team_domains_verified ON team_domains (domain) WHERE verified_at IS NOT NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("team_domains").take()).await
    }
}
