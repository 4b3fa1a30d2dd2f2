//! Teams, memberships, invitations and the append-only audit log.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn fk_cascade(name: &str, from: (&'static str, &'static str), to: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create().name(name).from(from.0, from.1).to(to, "id").on_delete(ForeignKeyAction::Cascade).take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("teams")
                    .col(pk_uuid("id"))
                    .col(string_len("name", 100))
                    .col(text_null("description"))
                    .col(uuid("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("team_members")
                    .col(uuid("team_id"))
                    .col(uuid("user_id"))
                    .col(string_len("role", 16))
                    .col(timestamp_with_time_zone("joined_at"))
                    .primary_key(Index::create().col("team_id").col("user_id"))
                    .foreign_key(&mut fk_cascade("fk_team_members_team", ("team_members", "team_id"), "teams"))
                    .foreign_key(&mut fk_cascade("fk_team_members_user", ("team_members", "user_id"), "users"))
                    .take(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_team_members_user").table("team_members").col("user_id").take())
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("invitations")
                    .col(pk_uuid("id"))
                    .col(uuid("team_id"))
                    .col(string_len("email", 254))
                    .col(string_len("role", 16))
                    .col(text_null("message"))
                    .col(string_len_uniq("token_hash", 64))
                    .col(string_len("state", 16))
                    .col(uuid_null("invited_by"))
                    .col(string_len("inviter_name", 200))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("accepted_at"))
                    .col(uuid_null("accepted_by"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .foreign_key(&mut fk_cascade("fk_invitations_team", ("invitations", "team_id"), "teams"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_invitations_inviter")
                            .from("invitations", "invited_by")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .take(),
            )
            .await?;
        // At most one pending invitation per team and address (the same SQL on SQLite and PostgreSQL).
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX uq_invitations_pending ON invitations (team_id, email) WHERE state = 'pending'",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("audit_log")
                    .col(big_pk_auto("id"))
                    .col(uuid_null("team_id"))
                    .col(string_len_null("actor_type", 16))
                    .col(uuid_null("actor_id"))
                    .col(string_len_null("actor_name", 200))
                    .col(string_len("action", 64))
                    .col(string_len("target_type", 32))
                    .col(string_len_null("target_id", 64))
                    .col(text_null("summary"))
                    .col(string_len_null("ip", 64))
                    .col(string_len_null("user_agent", 512))
                    .col(timestamp_with_time_zone("created_at"))
                    .take(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_audit_team").table("audit_log").col("team_id").col("id").take())
            .await?;
        manager
            .create_index(
                Index::create().name("idx_audit_actor").table("audit_log").col("actor_id").col("created_at").take(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["audit_log", "invitations", "team_members", "teams"] {
            manager.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}
