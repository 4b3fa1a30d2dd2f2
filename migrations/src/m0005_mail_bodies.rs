//! Mails delivered before bodies were dropped on delivery lose them now: they hold live links
//! (sign-up, password reset, invitation) that nobody needs to keep.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let update = Query::update()
            .table("mail_outbox")
            .value("text_body", "")
            .value("html_body", "")
            .and_where(Expr::col("sent_at").is_not_null())
            .to_owned();
        manager.exec_stmt(update).await
    }

    async fn down(&self, _: &SchemaManager) -> Result<(), DbErr> {
        // The bodies are gone for good; nothing to restore.
        Ok(())
    }
}
