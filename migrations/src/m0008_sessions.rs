//! Sessions a user can see and end: one row per sign-in (the family of its refresh tokens), with
//! where and how it was last used. An access token is accepted only while its session has not
//! ended. Every refresh-token family still in use gets its row, so nobody is signed out by the
//! upgrade.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("sessions")
                    .col(pk_uuid("id"))
                    .col(uuid("user_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("last_used_at"))
                    .col(string_len_null("ip", 64))
                    .col(string_len_null("user_agent", 512))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("ended_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sessions_user")
                            .from("sessions", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_sessions_user").table("sessions").col("user_id").col("created_at").take(),
            )
            .await?;
        // The same SQL on SQLite and PostgreSQL: a family with a token not yet revoked is a
        // session in use; it lasts as long as its newest token.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at) \
                 SELECT family_id, user_id, MIN(created_at), MAX(created_at), MAX(expires_at) \
                 FROM refresh_tokens WHERE revoked_at IS NULL GROUP BY family_id, user_id",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("sessions").take()).await
    }
}
