//! Alert thresholds are percentages of a key's monthly limit: a key without a limit has none.
//! Keys made before this rule got 80 and 100 whatever their limit; those without a limit lose
//! them here (they never fired: the notice task reads only keys with a limit).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let clear = Query::update()
            .table("api_keys")
            .value("alert_thresholds", "")
            .and_where(Expr::col("usage_limit").is_null())
            .to_owned();
        manager.exec_stmt(clear).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // Nothing to restore: the thresholds removed meant nothing without a limit.
        Ok(())
    }
}
