//! Two-factor authentication: a TOTP secret per account (encrypted; `enabled_at` is empty while
//! the enrolment awaits its first code), single-use recovery codes (hashed), the short-lived
//! challenges between the password and the code at sign-in, and the team setting that requires
//! two-factor authentication of its members.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn cascade_to_user(table: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_user"))
        .from(table, "user_id")
        .to("users", "id")
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("two_factor")
                    .col(pk_uuid("user_id"))
                    .col(text("secret"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("enabled_at"))
                    .col(big_integer_null("last_step"))
                    .foreign_key(&mut cascade_to_user("two_factor"))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("recovery_codes")
                    .col(pk_uuid("id"))
                    .col(uuid("user_id"))
                    .col(string_len("code_hash", 64))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("used_at"))
                    .foreign_key(&mut cascade_to_user("recovery_codes"))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_recovery_codes_user_hash")
                    .table("recovery_codes")
                    .col("user_id")
                    .col("code_hash")
                    .unique()
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("login_challenges")
                    .col(pk_uuid("id"))
                    .col(uuid("user_id"))
                    .col(string_len_uniq("token_hash", 64))
                    .col(integer("attempts").default(0))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("ended_at"))
                    .foreign_key(&mut cascade_to_user("login_challenges"))
                    .take(),
            )
            .await?;
        manager
            .alter_table(Table::alter().table("teams").add_column(boolean("require_two_factor").default(false)).take())
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("teams").drop_column("require_two_factor").take()).await?;
        for table in ["login_challenges", "recovery_codes", "two_factor"] {
            manager.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}
