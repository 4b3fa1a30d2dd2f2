//! Usage you can bill on: counts in minute, hour and day tiers, each with a latency histogram,
//! per key and summed per team (a team's dashboard then reads one row per bucket and status,
//! whatever its number of keys), a per-key monthly counter that also tracks the quota leased to
//! instances, and per-key rate limits. Existing per-minute counts are carried over into every tier.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Latency histogram buckets per row: `h00` .. `h39` (see `portal_domain::usage::Histogram`).
/// Fixed here on purpose: a migration never changes.
const HISTOGRAM_BUCKETS: usize = 40;
/// (key table, team table, bucket seconds)
const TIERS: [(&str, &str, i64); 3] = [
    ("usage_minutes", "usage_team_minutes", 60),
    ("usage_hours", "usage_team_hours", 3600),
    ("usage_days", "usage_team_days", 86_400),
];

/// A tier table of keys (`owner` = "key_id", referencing api_keys) or of teams ("team_id").
fn tier_table(name: &'static str, owner: &'static str) -> TableCreateStatement {
    let mut table = Table::create();
    table.table(name);
    if owner == "key_id" {
        table.col(uuid("key_id"));
    }
    table
        .col(uuid("team_id"))
        // Start of the bucket, in Unix seconds: compact, and the same arithmetic on both databases.
        .col(big_integer("bucket"))
        .col(integer("status"))
        .col(big_integer("count"))
        .col(big_integer("latency_us_sum"));
    for i in 0..HISTOGRAM_BUCKETS {
        table.col(big_integer(format!("h{i:02}")).default(0));
    }
    let parent = if owner == "key_id" { "api_keys" } else { "teams" };
    table
        .primary_key(Index::create().col(owner).col("bucket").col("status"))
        .foreign_key(
            ForeignKey::create()
                .name(format!("fk_{name}_owner"))
                .from(name, owner)
                .to(parent, "id")
                .on_delete(ForeignKeyAction::Cascade),
        )
        .take()
}

/// The Unix seconds of the old `minute` timestamp column, per database.
fn epoch_of_minute(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "CAST(EXTRACT(EPOCH FROM minute) AS BIGINT)",
        _ => "CAST(strftime('%s', minute) AS INTEGER)",
    }
}

fn epoch_of_month(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "CAST(EXTRACT(EPOCH FROM date_trunc('month', minute AT TIME ZONE 'UTC')) AS BIGINT)",
        _ => "CAST(strftime('%s', strftime('%Y-%m-01', minute)) AS INTEGER)",
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.rename_table(Table::rename().table("usage_minutes", "usage_minutes_v1").take()).await?;
        for (keys, teams, _) in TIERS {
            manager.create_table(tier_table(keys, "key_id")).await?;
            manager.create_table(tier_table(teams, "team_id")).await?;
            // A team's per-key breakdown and exports.
            manager
                .create_index(
                    Index::create()
                        .name(format!("idx_{keys}_team"))
                        .table(keys)
                        .col("team_id")
                        .col("bucket")
                        .col("status")
                        .take(),
                )
                .await?;
            // Retention prunes by age.
            for name in [keys, teams] {
                manager
                    .create_index(Index::create().name(format!("idx_{name}_bucket")).table(name).col("bucket").take())
                    .await?;
            }
        }
        manager
            .create_table(
                Table::create()
                    .table("usage_months")
                    .col(uuid("key_id"))
                    .col(uuid("team_id"))
                    .col(big_integer("month"))
                    // Requests that counted against the key's monthly limit.
                    .col(big_integer("requests").default(0))
                    // Quota handed out to instances this month; never above the limit.
                    .col(big_integer("leased").default(0))
                    .primary_key(Index::create().col("key_id").col("month"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_usage_months_key")
                            .from("usage_months", "key_id")
                            .to("api_keys", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_usage_months_team").table("usage_months").col("team_id").col("month").take(),
            )
            .await?;
        for column in ["rate_limit_per_second", "rate_limit_burst"] {
            manager.alter_table(Table::alter().table("api_keys").add_column(integer_null(column)).take()).await?;
        }

        let db = manager.get_connection();
        let backend = db.get_database_backend();
        let epoch = epoch_of_minute(backend);
        for (keys, teams, width) in TIERS {
            let bucket = format!("({epoch}) - ({epoch}) % {width}");
            db.execute_unprepared(&format!(
                "INSERT INTO {keys} (key_id, team_id, bucket, status, count, latency_us_sum) \
                 SELECT key_id, team_id, {bucket}, status, SUM(count), SUM(latency_us_sum) FROM usage_minutes_v1 \
                 GROUP BY key_id, team_id, {bucket}, status"
            ))
            .await?;
            db.execute_unprepared(&format!(
                "INSERT INTO {teams} (team_id, bucket, status, count, latency_us_sum) \
                 SELECT team_id, {bucket}, status, SUM(count), SUM(latency_us_sum) FROM usage_minutes_v1 \
                 GROUP BY team_id, {bucket}, status"
            ))
            .await?;
        }
        let month = epoch_of_month(backend);
        // Refusals by the key check (401, 429) never counted against a limit.
        db.execute_unprepared(&format!(
            "INSERT INTO usage_months (key_id, team_id, month, requests, leased) \
             SELECT key_id, team_id, {month}, SUM(count), SUM(count) FROM usage_minutes_v1 \
             WHERE status NOT IN (401, 429) GROUP BY key_id, team_id, {month}"
        ))
        .await?;
        manager.drop_table(Table::drop().table("usage_minutes_v1").take()).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["rate_limit_per_second", "rate_limit_burst"] {
            manager.alter_table(Table::alter().table("api_keys").drop_column(column).take()).await?;
        }
        for table in [
            "usage_months",
            "usage_team_days",
            "usage_team_hours",
            "usage_team_minutes",
            "usage_days",
            "usage_hours",
            "usage_minutes",
        ] {
            manager.drop_table(Table::drop().table(table).take()).await?;
        }
        // The previous shape, empty: per-minute counts without histograms.
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
                    .take(),
            )
            .await?;
        Ok(())
    }
}
