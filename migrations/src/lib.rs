//! Schema migrations, run on start-up and by `partner-portal migrate`.

pub use sea_orm_migration::prelude::*;

mod m0001_identity;
mod m0002_teams;
mod m0003_api_keys;
mod m0004_usage_tiers;
mod m0005_mail_bodies;
mod m0006_key_restrictions;
mod m0007_read_paths;
mod m0008_sessions;
mod m0009_two_factor;
mod m0010_webhooks;
mod m0011_key_search;
mod m0012_usage_flushes;
mod m0013_alerts_need_a_limit;
mod m0014_rate_budgets;
mod m0015_key_lineage;
mod m0016_webhook_subscribers;
mod m0017_narrowed_key_lists;
mod m0018_usage_key_weeks;
mod m0019_compromised_keys;
mod m0020_team_domains;
mod m0021_sso;
mod m0022_domain_rechecks;
mod m0023_saml;
mod m0024_rate_limit_states;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_identity::Migration),
            Box::new(m0002_teams::Migration),
            Box::new(m0003_api_keys::Migration),
            Box::new(m0004_usage_tiers::Migration),
            Box::new(m0005_mail_bodies::Migration),
            Box::new(m0006_key_restrictions::Migration),
            Box::new(m0007_read_paths::Migration),
            Box::new(m0008_sessions::Migration),
            Box::new(m0009_two_factor::Migration),
            Box::new(m0010_webhooks::Migration),
            Box::new(m0011_key_search::Migration),
            Box::new(m0012_usage_flushes::Migration),
            Box::new(m0013_alerts_need_a_limit::Migration),
            Box::new(m0014_rate_budgets::Migration),
            Box::new(m0015_key_lineage::Migration),
            Box::new(m0016_webhook_subscribers::Migration),
            Box::new(m0017_narrowed_key_lists::Migration),
            Box::new(m0018_usage_key_weeks::Migration),
            Box::new(m0019_compromised_keys::Migration),
            Box::new(m0020_team_domains::Migration),
            Box::new(m0021_sso::Migration),
            Box::new(m0022_domain_rechecks::Migration),
            Box::new(m0023_saml::Migration),
            Box::new(m0024_rate_limit_states::Migration),
        ]
    }
}
