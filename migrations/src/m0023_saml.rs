//! SAML 2.0 connections. A connection keeps its IdP's metadata document (`saml_idp_metadata`,
//! where it came from in `saml_metadata_url`), the portal's own certificate for it
//! (`saml_certificate`; its private key sealed in `client_secret_sealed`), and whether sign-ins
//! started at the IdP are taken (`allow_idp_initiated`). A flow keeps the sealed identity that a
//! verified response named (`asserted_sealed`) until the browser that started it collects it.
//! `saml_assertions` holds the id of every assertion taken until it expires, so that a replay to
//! any instance is refused.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let add = |column: ColumnDef| Table::alter().table("sso_connections").add_column(column).take();
        manager.alter_table(add(text_null("saml_idp_metadata"))).await?;
        manager.alter_table(add(string_len_null("saml_metadata_url", 500))).await?;
        manager.alter_table(add(text_null("saml_certificate"))).await?;
        manager.alter_table(add(boolean("allow_idp_initiated").default(false).take())).await?;
        manager.alter_table(Table::alter().table("sso_flows").add_column(text_null("asserted_sealed")).take()).await?;
        manager
            .create_table(
                Table::create()
                    .table("saml_assertions")
                    .col(string_len("id_hash", 64).primary_key())
                    .col(uuid("connection_id"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_saml_assertions_connection")
                            .from("saml_assertions", "connection_id")
                            .to("sso_connections", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("ix_saml_assertions_expires").table("saml_assertions").col("expires_at").take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("saml_assertions").take()).await?;
        manager.alter_table(Table::alter().table("sso_flows").drop_column("asserted_sealed").take()).await?;
        for column in ["allow_idp_initiated", "saml_certificate", "saml_metadata_url", "saml_idp_metadata"] {
            manager.alter_table(Table::alter().table("sso_connections").drop_column(column).take()).await?;
        }
        Ok(())
    }
}
