//! Indexes and one aggregate so that every list reads what it shows and no more:
//! - `team_members.last_active_at`: a member's latest audited action in the team or sign-in,
//!   kept by every audit write (the member list no longer groups the audit log per request);
//!   filled from the log for existing members;
//! - members in join order, invitations newest first: indexes matching each list's filter and order;
//! - members' sign-ins, which the activity list merges into the team's own entries: a partial
//!   index holding only sign-ins (no team), by actor and id;
//! - a team's usage per key (the key shares of its usage page): the per-key tiers' team index
//!   also holds the key and the count, so that the breakdown reads the index alone instead of
//!   every wide row (40 histogram columns) it covers.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The per-key usage tiers.
const KEY_TIERS: [&str; 3] = ["usage_minutes", "usage_hours", "usage_days"];

fn team_index(table: &'static str, covering: bool) -> IndexCreateStatement {
    let mut index = Index::create().name(format!("idx_{table}_team")).table(table).col("team_id").col("bucket").take();
    if covering {
        index.col("key_id").col("status").col("count");
    } else {
        index.col("status");
    }
    index
}

async fn replace_team_index(manager: &SchemaManager<'_>, covering: bool) -> Result<(), DbErr> {
    for table in KEY_TIERS {
        manager.drop_index(Index::drop().name(format!("idx_{table}_team")).table(table).to_owned()).await?;
        manager.create_index(team_index(table, covering)).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table("team_members").add_column(timestamp_with_time_zone_null("last_active_at")).take(),
            )
            .await?;
        let db = manager.get_connection();
        // The same SQL on SQLite and PostgreSQL; what the member list computed per request until now.
        db.execute_unprepared(
            "UPDATE team_members SET last_active_at = (SELECT MAX(a.created_at) FROM audit_log a \
             WHERE a.actor_id = team_members.user_id AND (a.team_id = team_members.team_id OR a.team_id IS NULL))",
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_team_members_joined")
                    .table("team_members")
                    .col("team_id")
                    .col("joined_at")
                    .col("user_id")
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_invitations_team")
                    .table("invitations")
                    .col("team_id")
                    .col("created_at")
                    .col("id")
                    .take(),
            )
            .await?;
        db.execute_unprepared(
            "CREATE INDEX idx_audit_sign_ins ON audit_log (actor_id, id) \
             WHERE team_id IS NULL AND action = 'auth.signed_in'",
        )
        .await?;
        replace_team_index(manager, true).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace_team_index(manager, false).await?;
        for (name, table) in [
            ("idx_audit_sign_ins", "audit_log"),
            ("idx_invitations_team", "invitations"),
            ("idx_team_members_joined", "team_members"),
        ] {
            manager.drop_index(Index::drop().name(name).table(table).to_owned()).await?;
        }
        manager.alter_table(Table::alter().table("team_members").drop_column("last_active_at").take()).await
    }
}
