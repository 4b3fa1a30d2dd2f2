//! API keys and their per-minute usage counts.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("api_keys")
                    .col(pk_uuid("id"))
                    .col(uuid("team_id"))
                    .col(string_len("name", 100))
                    .col(text_null("description"))
                    .col(string_len("environment", 16))
                    .col(string_len_uniq("key_hash", 64))
                    .col(string_len("hint", 32))
                    .col(uuid_null("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("expires_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .col(timestamp_with_time_zone_null("grace_until"))
                    .col(uuid_null("replaced_by"))
                    .col(big_integer_null("usage_limit"))
                    .col(timestamp_with_time_zone_null("last_used_at"))
                    .col(big_integer("request_count").default(0))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_api_keys_team")
                            .from("api_keys", "team_id")
                            .to("teams", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_api_keys_team").table("api_keys").col("team_id").col("created_at").take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("usage_minutes")
                    .col(uuid("key_id"))
                    .col(uuid("team_id"))
                    .col(timestamp_with_time_zone("minute"))
                    .col(integer("status"))
                    .col(big_integer("count"))
                    .col(big_integer("latency_us_sum"))
                    .primary_key(Index::create().col("key_id").col("minute").col("status"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_usage_minutes_key")
                            .from("usage_minutes", "key_id")
                            .to("api_keys", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_usage_team_minute")
                    .table("usage_minutes")
                    .col("team_id")
                    .col("minute")
                    .take(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["usage_minutes", "api_keys"] {
            manager.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}
