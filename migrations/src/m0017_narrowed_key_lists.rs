//! Indexes for the narrowed key lists of a team with many keys (a platform issuing a key per
//! customer): each order and each narrowing a list offers walks an index of the team's keys in
//! that order instead of sorting or filtering all of them.
//!
//! - by requests and by last use: (team, count or time, id), the order and cursor of the list;
//! - by environment: (team, environment, created_at, id);
//! - revoked and rolled or rolling keys, few among many: partial indexes in list order;
//! - expiry: (team, expires_at), for the expired and expiring-soon filters and for when the
//!   next key's status changes by itself.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: &[(&str, &str)] = &[
    ("idx_api_keys_requests", "(team_id, request_count, id)"),
    ("idx_api_keys_environment", "(team_id, environment, created_at, id)"),
    ("idx_api_keys_expiry", "(team_id, expires_at)"),
    ("idx_api_keys_revoked", "(team_id, created_at, id) WHERE revoked_at IS NOT NULL"),
    ("idx_api_keys_rolled", "(team_id, created_at, id) WHERE grace_until IS NOT NULL"),
];

const LAST_USED: &str = "idx_api_keys_last_used";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // The same SQL on SQLite and PostgreSQL (partial indexes included).
        for (name, columns) in INDEXES {
            db.execute_unprepared(&format!("CREATE INDEX {name} ON api_keys {columns}")).await?;
        }
        // Most recently used first, never-used keys last: SQLite sorts NULL first, so its index
        // read backwards is that order; PostgreSQL sorts NULL last and needs it spelled out.
        let last_used = match manager.get_database_backend() {
            DbBackend::Postgres => "(team_id, last_used_at DESC NULLS LAST, id DESC)",
            _ => "(team_id, last_used_at, id)",
        };
        db.execute_unprepared(&format!("CREATE INDEX {LAST_USED} ON api_keys {last_used}")).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in INDEXES.iter().map(|(name, _)| *name).chain([LAST_USED]) {
            manager.drop_index(Index::drop().name(name).table("api_keys").to_owned()).await?;
        }
        Ok(())
    }
}
