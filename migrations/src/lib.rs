//! Schema migrations, run on start-up and by `partner-portal migrate`.

pub use sea_orm_migration::prelude::*;

mod m0001_identity;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m0001_identity::Migration)]
    }
}
