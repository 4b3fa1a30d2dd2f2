//! Each key's requests and errors per week (weeks start on Monday, 00:00 UTC): a team's usage
//! page sums every key's share over its range, and whole weeks between the range's edges make
//! that a few rows per key instead of a row per day and status. Filled here from the day tier
//! (which holds every count kept); the meter adds to it with every flush.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "usage_key_weeks";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TABLE)
                    .col(uuid("key_id"))
                    .col(uuid("team_id"))
                    .col(big_integer("bucket"))
                    .col(big_integer("requests"))
                    .col(big_integer("errors"))
                    .primary_key(Index::create().col("key_id").col("bucket"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_usage_key_weeks_key")
                            .from(TABLE, "key_id")
                            .to("api_keys", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        // The team's shares read the index alone.
        manager
            .create_index(
                Index::create()
                    .name("idx_usage_key_weeks_team")
                    .table(TABLE)
                    .col("team_id")
                    .col("bucket")
                    .col("key_id")
                    .col("requests")
                    .col("errors")
                    .take(),
            )
            .await?;
        // The same SQL on both databases: buckets are Unix seconds; 345600 is 1970-01-05, a
        // Monday; an error is a status from 400 up (`portal_domain::usage::is_error`).
        let week = "bucket - ((bucket - 345600) % 604800)";
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "INSERT INTO {TABLE} (key_id, team_id, bucket, requests, errors) \
                 SELECT key_id, team_id, {week}, SUM(count), SUM(CASE WHEN status >= 400 THEN count ELSE 0 END) \
                 FROM usage_days GROUP BY key_id, team_id, {week}"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(TABLE).to_owned()).await
    }
}
