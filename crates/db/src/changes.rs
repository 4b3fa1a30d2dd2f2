//! Telling other instances sharing the database that an API key or a team changed (PostgreSQL
//! LISTEN/NOTIFY), so that they drop what they cached. On SQLite there is one instance, so
//! there is no one to tell.

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use uuid::Uuid;

use crate::Result;

const CHANNEL: &str = "portal_api_keys";

pub fn is_postgres(db: &DatabaseConnection) -> bool {
    db.get_database_backend() == DbBackend::Postgres
}

async fn announce(db: &impl ConnectionTrait, payload: String) -> Result<()> {
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), payload.into()],
        ))
        .await?;
    }
    Ok(())
}

/// Announces a changed key; inside a transaction, delivered at commit.
pub async fn key_changed(db: &impl ConnectionTrait, key_id: Uuid) -> Result<()> {
    announce(db, format!("key:{key_id}")).await
}

/// Announces a changed team (its row, its members, or its deletion).
pub async fn team_changed(db: &impl ConnectionTrait, team_id: Uuid) -> Result<()> {
    announce(db, format!("team:{team_id}")).await
}

/// Announces that what a team's lists and usage pages show changed (and nothing that
/// authorizes: its keys and memberships are as they were).
pub async fn reads_changed(db: &impl ConnectionTrait, team_id: Uuid) -> Result<()> {
    announce(db, format!("reads:{team_id}")).await
}

/// Announces that usage was counted for a team (a flush): what its usage pages and key lists
/// show changed, and nothing else.
/// `instance` names the announcing instance, which moved its own pages on already.
pub async fn usage_counted(db: &impl ConnectionTrait, team_id: Uuid, instance: Uuid) -> Result<()> {
    announce(db, format!("usage:{team_id}@{instance}")).await
}

/// Announces an ended session: its access tokens are refused from now on.
pub async fn session_ended(db: &impl ConnectionTrait, session_id: Uuid) -> Result<()> {
    announce(db, format!("session:{session_id}")).await
}

/// What a listener heard.
pub enum Heard {
    /// A session ended.
    Session(Uuid),
    Key(Uuid),
    Team(Uuid),
    Reads(Uuid),
    /// Usage counted for a team, by an instance.
    Usage(Uuid, Uuid),
    /// The connection dropped (or an unknown message came): changes may have been missed.
    Lost,
}

pub struct ChangeListener(PgListener);

impl ChangeListener {
    pub async fn connect(db: &DatabaseConnection) -> std::result::Result<Self, sea_orm::sqlx::Error> {
        let mut listener = PgListener::connect_with(db.get_postgres_connection_pool()).await?;
        listener.listen(CHANNEL).await?;
        Ok(Self(listener))
    }

    pub async fn next(&mut self) -> Heard {
        match self.0.try_recv().await {
            Ok(Some(n)) => match n.payload().split_once(':') {
                Some(("key", id)) => id.parse().map(Heard::Key).unwrap_or(Heard::Lost),
                Some(("team", id)) => id.parse().map(Heard::Team).unwrap_or(Heard::Lost),
                Some(("reads", id)) => id.parse().map(Heard::Reads).unwrap_or(Heard::Lost),
                Some(("session", id)) => id.parse().map(Heard::Session).unwrap_or(Heard::Lost),
                Some(("usage", ids)) => match ids.split_once('@').map(|(t, i)| (t.parse(), i.parse())) {
                    Some((Ok(team), Ok(instance))) => Heard::Usage(team, instance),
                    _ => Heard::Lost,
                },
                _ => Heard::Lost,
            },
            Ok(None) | Err(_) => Heard::Lost,
        }
    }
}
