//! Webhooks: a team's endpoints, the events queued for them in the transaction of the change (a
//! durable outbox), one delivery per event and endpoint, and every attempt of it, for the
//! delivery log. Keys with full access gain the new `webhooks:read` and `webhooks:write` scopes,
//! read-only keys `webhooks:read`: the presets keep meaning what they meant.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const OLD_FULL_ACCESS: &str = "team:read members:read members:write invitations:read invitations:write api_keys:read api_keys:write usage:read activity:read";
const OLD_READ_ONLY: &str = "team:read members:read invitations:read api_keys:read usage:read activity:read";

fn cascade(name: &str, from: (&'static str, &'static str), to: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create().name(name).from(from.0, from.1).to(to, "id").on_delete(ForeignKeyAction::Cascade).take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("webhook_endpoints")
                    .col(pk_uuid("id"))
                    .col(uuid("team_id"))
                    .col(string_len("url", 2048))
                    .col(string_len_null("description", 500))
                    .col(text("event_types"))
                    .col(boolean("enabled").default(true))
                    .col(text("secret"))
                    .col(text_null("previous_secret"))
                    .col(timestamp_with_time_zone_null("previous_secret_until"))
                    .col(timestamp_with_time_zone_null("failing_since"))
                    .col(string_len_null("disabled_reason", 200))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut cascade("fk_webhook_endpoints_team", ("webhook_endpoints", "team_id"), "teams"))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_endpoints_team")
                    .table("webhook_endpoints")
                    .col("team_id")
                    .col("created_at")
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("webhook_events")
                    .col(pk_uuid("id"))
                    .col(uuid("team_id"))
                    .col(string_len("event_type", 64))
                    .col(text("payload"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut cascade("fk_webhook_events_team", ("webhook_events", "team_id"), "teams"))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("webhook_deliveries")
                    .col(pk_uuid("id"))
                    .col(uuid("event_id"))
                    .col(uuid("endpoint_id"))
                    .col(string_len("state", 16))
                    .col(integer("attempts").default(0))
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    .col(timestamp_with_time_zone_null("locked_until"))
                    .col(integer_null("last_status"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("finished_at"))
                    .foreign_key(&mut cascade(
                        "fk_webhook_deliveries_event",
                        ("webhook_deliveries", "event_id"),
                        "webhook_events",
                    ))
                    .foreign_key(&mut cascade(
                        "fk_webhook_deliveries_endpoint",
                        ("webhook_deliveries", "endpoint_id"),
                        "webhook_endpoints",
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_due")
                    .table("webhook_deliveries")
                    .col("state")
                    .col("next_attempt_at")
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_endpoint")
                    .table("webhook_deliveries")
                    .col("endpoint_id")
                    .col("created_at")
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("webhook_attempts")
                    .col(pk_uuid("id"))
                    .col(uuid("delivery_id"))
                    .col(uuid("endpoint_id"))
                    .col(timestamp_with_time_zone("attempted_at"))
                    .col(integer_null("status_code"))
                    .col(integer("latency_ms"))
                    .col(string_len_null("response_excerpt", 1024))
                    .col(string_len_null("error", 300))
                    .foreign_key(&mut cascade(
                        "fk_webhook_attempts_delivery",
                        ("webhook_attempts", "delivery_id"),
                        "webhook_deliveries",
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_attempts_endpoint")
                    .table("webhook_attempts")
                    .col("endpoint_id")
                    .col("attempted_at")
                    .take(),
            )
            .await?;
        let db = manager.get_connection();
        let full = format!("{OLD_FULL_ACCESS} webhooks:read webhooks:write");
        db.execute_unprepared(&format!("UPDATE api_keys SET scopes = '{full}' WHERE scopes = '{OLD_FULL_ACCESS}'"))
            .await?;
        let read_only = format!("{OLD_READ_ONLY} webhooks:read");
        db.execute_unprepared(&format!("UPDATE api_keys SET scopes = '{read_only}' WHERE scopes = '{OLD_READ_ONLY}'"))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["webhook_attempts", "webhook_deliveries", "webhook_events", "webhook_endpoints"] {
            manager.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}
