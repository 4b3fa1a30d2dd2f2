//! Single sign-on. A team's connections to its identity provider (`sso_connections`: OpenID
//! Connect now; the client secret sealed), the flows under way (`sso_flows`: one row per trip to
//! the provider, so that a flow started on one instance completes on another and its `state`
//! works once), who signed in through a connection (`sso_identities`: the provider's subject,
//! linked to an account), how each session started (`sessions.sso_connection_id`, None for a
//! password), and whether a team requires SSO (`teams.require_sso`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("sso_connections")
                    .col(pk_uuid("id"))
                    .col(uuid("team_id"))
                    .col(string_len("protocol", 16))
                    .col(string_len("name", 100))
                    .col(string_len("issuer", 500))
                    .col(string_len("client_id", 255))
                    .col(text("client_secret_sealed"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("last_sign_in_at"))
                    .col(timestamp_with_time_zone_null("tested_at"))
                    .col(text_null("test_claims"))
                    .col(string_len_null("test_error", 500))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sso_connections_team")
                            .from("sso_connections", "team_id")
                            .to("teams", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("ix_sso_connections_team").table("sso_connections").col("team_id").take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("sso_flows")
                    .col(pk_uuid("id"))
                    .col(string_len("state_hash", 64).unique_key())
                    .col(uuid("connection_id"))
                    .col(string_len("purpose", 16))
                    .col(string_len("nonce", 64))
                    .col(text("verifier_sealed"))
                    .col(string_len_null("browser_hash", 64))
                    .col(string_len_null("login_hint", 320))
                    .col(uuid_null("started_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("used_at"))
                    // A sign-in that found a password account: linked once its password is proven.
                    .col(string_len_null("link_hash", 64).unique_key())
                    .col(uuid_null("link_user_id"))
                    .col(string_len_null("link_subject", 255))
                    .col(timestamp_with_time_zone_null("linked_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sso_flows_connection")
                            .from("sso_flows", "connection_id")
                            .to("sso_connections", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(Index::create().name("ix_sso_flows_expires").table("sso_flows").col("expires_at").take())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("sso_identities")
                    .col(pk_uuid("id"))
                    .col(uuid("connection_id"))
                    .col(string_len("subject", 255))
                    .col(uuid("user_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("last_sign_in_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sso_identities_connection")
                            .from("sso_identities", "connection_id")
                            .to("sso_connections", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sso_identities_user")
                            .from("sso_identities", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_sso_identities_subject")
                    .table("sso_identities")
                    .col("connection_id")
                    .col("subject")
                    .unique()
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_sso_identities_user")
                    .table("sso_identities")
                    .col("connection_id")
                    .col("user_id")
                    .unique()
                    .take(),
            )
            .await?;
        // No foreign key: a removed connection leaves its sessions, which no longer count as SSO
        // for any team (the id matches no connection).
        manager.alter_table(Table::alter().table("sessions").add_column(uuid_null("sso_connection_id")).take()).await?;
        manager.alter_table(Table::alter().table("sessions").add_column(uuid_null("sso_team_id")).take()).await?;
        manager
            .alter_table(Table::alter().table("teams").add_column(boolean("require_sso").default(false)).take())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("teams").drop_column("require_sso").take()).await?;
        manager.alter_table(Table::alter().table("sessions").drop_column("sso_team_id").take()).await?;
        manager.alter_table(Table::alter().table("sessions").drop_column("sso_connection_id").take()).await?;
        manager.drop_table(Table::drop().table("sso_identities").take()).await?;
        manager.drop_table(Table::drop().table("sso_flows").take()).await?;
        manager.drop_table(Table::drop().table("sso_connections").take()).await
    }
}
