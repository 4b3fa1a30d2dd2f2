//! What a key may do and from where (scopes, allowlist), when its owners hear about it (usage
//! alert thresholds), whether it was found leaked, and which notices were sent (once each).
//! Existing keys get full access, as they had.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Every scope of the first scope set, as `ScopeSet::FULL` stores it.
const FULL_ACCESS: &str = "team:read members:read members:write invitations:read invitations:write api_keys:read api_keys:write usage:read activity:read";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        let columns = [
            text("scopes").default(FULL_ACCESS).take(),
            text_null("allowed_ips").take(),
            string_len("alert_thresholds", 32).default("80 100").take(),
            timestamp_with_time_zone_null("leaked_at").take(),
            text_null("leak_url").take(),
            string_len_null("leak_source", 64).take(),
        ];
        for column in columns {
            manager.alter_table(Table::alter().table("api_keys").add_column(column).take()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("key_notices")
                    .col(uuid("key_id"))
                    .col(string_len("notice", 64))
                    .col(timestamp_with_time_zone("sent_at"))
                    .primary_key(Index::create().col("key_id").col("notice"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_key_notices_key")
                            .from("key_notices", "key_id")
                            .to("api_keys", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_api_keys_expires").table("api_keys").col("expires_at").take())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("key_notices").take()).await?;
        manager.drop_index(Index::drop().name("idx_api_keys_expires").table("api_keys").to_owned()).await?;
        for column in ["scopes", "allowed_ips", "alert_thresholds", "leaked_at", "leak_url", "leak_source"] {
            manager.alter_table(Table::alter().table("api_keys").drop_column(column).take()).await?;
        }
        Ok(())
    }
}
