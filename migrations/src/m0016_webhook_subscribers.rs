//! Who subscribed a webhook endpoint to its events (the user or the key that last set them):
//! every delivery checks again that the subscriber may still read the event's family. Endpoints
//! made before this version have none recorded and are not checked.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["subscriber_user", "subscriber_key"] {
            manager.alter_table(Table::alter().table("webhook_endpoints").add_column(uuid_null(column)).take()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["subscriber_user", "subscriber_key"] {
            manager.alter_table(Table::alter().table("webhook_endpoints").drop_column(column).take()).await?;
        }
        Ok(())
    }
}
