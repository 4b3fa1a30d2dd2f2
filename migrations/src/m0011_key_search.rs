//! A key's name as the key list searches it, lower-cased by the application on both databases:
//! SQLite's `lower()` and `LIKE` fold only ASCII letters, so "Ärger" was not found by "ärger".
//! Existing keys are filled in here, with the same folding (`str::to_lowercase`) as
//! `portal_db::api_keys::search_text`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table("api_keys").add_column(text("search_name").default("")).take())
            .await?;
        let db = manager.get_connection();
        let names = Query::select().distinct().column("name").from("api_keys").to_owned();
        for row in db.query_all(&names).await? {
            let name: String = row.try_get("", "name")?;
            let update = Query::update()
                .table("api_keys")
                .value("search_name", name.to_lowercase())
                .and_where(Expr::col("name").eq(name))
                .to_owned();
            manager.exec_stmt(update).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("api_keys").drop_column("search_name").take()).await
    }
}
