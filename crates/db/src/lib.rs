//! Entities and queries of the Partner Portal: the only crate that speaks SQL.
//!
//! One code path for SQLite and PostgreSQL. Every function takes any connection or transaction,
//! so callers decide what must happen atomically.

pub mod api_keys;
pub mod audit;
pub mod backup;
pub mod budgets;
pub mod changes;
pub mod domains;
pub mod entity;
pub mod getting_started;
pub mod invitations;
pub mod mail;
pub mod rate_limits;
pub mod sessions;
pub mod sso;
pub mod teams;
pub mod tokens;
pub mod two_factor;
pub mod usage;
pub mod users;
pub mod webhooks;

use std::time::Duration;

use portal_migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, SqlErr};
pub use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, TransactionTrait};

pub type Timestamp = chrono::DateTime<chrono::Utc>;

/// Errors of this crate: a rule the database enforces, or the database failing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("a row with this unique value already exists")]
    Conflict,
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl Error {
    fn from_insert(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Self::Conflict,
            _ => Self::Db(err),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// SQLite pragmas of every connection, writer and readers: 16 MiB of page cache
/// (`cache_size = -16384`, in KiB), and up to 256 MiB of the file mapped into memory
/// (`mmap_size`), so that reads of a warm database are memory reads.
const SQLITE_CACHE_KIB: &str = "-16384";
const SQLITE_MMAP_BYTES: &str = "268435456";
/// Read-only SQLite connections beside the writer.
const SQLITE_READERS: u32 = 4;

/// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://...`).
///
/// SQLite runs in WAL mode with foreign keys on, `synchronous = NORMAL` (safe in WAL: a crash
/// may lose the last commits, never corrupts) and a 10 s `busy_timeout`. It allows one writer at a
/// time, so this pool has a single connection: transactions then never fail with "database is
/// locked" under load. Reads outside transactions go to [`connect_readers`].
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false).connect_timeout(Duration::from_secs(10)).acquire_timeout(Duration::from_secs(30));
    if url.starts_with("sqlite:") {
        restrict_sqlite_files(url).map_err(|e| DbErr::Custom(format!("cannot create the database file: {e}")))?;
        opts.max_connections(1).min_connections(1).map_sqlx_sqlite_opts(|o| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .create_if_missing(true)
                .pragma("cache_size", SQLITE_CACHE_KIB)
                .pragma("mmap_size", SQLITE_MMAP_BYTES)
        });
    } else {
        opts.max_connections(16).min_connections(1);
    }
    Database::connect(opts).await
}

/// The connections for reads outside transactions. On SQLite: a pool of read-only connections
/// beside the single writer of [`connect`] (open that first: it creates the file and sets WAL),
/// so reads neither queue behind each other nor behind writes. On PostgreSQL: `writer` itself.
pub async fn connect_readers(url: &str, writer: &DatabaseConnection) -> Result<DatabaseConnection, DbErr> {
    if !url.starts_with("sqlite:") {
        return Ok(writer.clone());
    }
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .max_connections(SQLITE_READERS)
        .min_connections(1)
        .map_sqlx_sqlite_opts(|o| {
            o.read_only(true)
                .create_if_missing(false)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .pragma("cache_size", SQLITE_CACHE_KIB)
                .pragma("mmap_size", SQLITE_MMAP_BYTES)
        });
    Database::connect(opts).await
}

/// The database holds password hashes and audit trails: its file is created readable by its
/// owner only (0600), and an existing one is narrowed to that. SQLite gives the `-wal` and `-shm`
/// files it creates the mode of the database file.
fn restrict_sqlite_files(url: &str) -> std::io::Result<()> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path.starts_with(":memory:") {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                for file in [path.to_owned(), format!("{path}-wal"), format!("{path}-shm")] {
                    if let Ok(meta) = std::fs::metadata(&file)
                        && meta.permissions().mode() & 0o077 != 0
                    {
                        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Applies pending migrations.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// A cheap round trip, for readiness checks.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.ping().await
}

/// (connections open, of which idle) in `db`'s pool.
pub fn pool_use(db: &DatabaseConnection) -> (u32, u32) {
    match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), u32::try_from(pool.num_idle()).unwrap_or(u32::MAX))
        }
        sea_orm::DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), u32::try_from(pool.num_idle()).unwrap_or(u32::MAX))
        }
        _ => (0, 0),
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{DbBackend, Statement};

    use super::*;

    /// SQLite is built to plan a statement once, whatever is bound to it (`.cargo/config.toml`):
    /// otherwise a bound value the plan might depend on (every list's LIMIT) makes it re-parse and
    /// re-plan the statement on every run. Seen here through a partial index, which a bound value
    /// can only serve when the planner looks at the value.
    #[tokio::test]
    async fn sqlite_plans_each_statement_once_whatever_is_bound() {
        let db = connect("sqlite::memory:").await.unwrap();
        db.execute_unprepared("CREATE TABLE t (a INTEGER, b INTEGER); CREATE INDEX t_b ON t (b) WHERE a = 1")
            .await
            .unwrap();
        let sql = "EXPLAIN QUERY PLAN SELECT b FROM t WHERE a = ?1 AND b > 0";
        let plan = db.query_all_raw(Statement::from_sql_and_values(DbBackend::Sqlite, sql, [1.into()])).await.unwrap();
        let detail: Vec<String> = plan.iter().map(|row| row.try_get::<String>("", "detail").unwrap()).collect();
        assert!(
            detail.iter().all(|d| !d.contains("t_b")),
            "the plan used the bound value (the planner stability guarantee is off): {detail:?}"
        );
    }
}
