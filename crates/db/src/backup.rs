//! SQLite backups: the online copy (`VACUUM INTO`) and the check of a copy. The files, the lock
//! and the commands are the server's (`portal_server::backup`).

use std::path::Path;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

use crate::{Error, Result};

fn sqlite(sql: &str) -> Statement {
    Statement::from_string(DbBackend::Sqlite, sql.to_owned())
}

/// Writes a consistent copy of the live SQLite database `db` to `target` (a path that does not
/// exist): one read transaction, so the copy holds every transaction committed before it began.
pub async fn vacuum_into(db: &DatabaseConnection, target: &str) -> Result<()> {
    db.execute_raw(Statement::from_sql_and_values(DbBackend::Sqlite, "VACUUM INTO ?", [target.into()])).await?;
    Ok(())
}

/// What a SQLite file holds, read-only: the verdict of `PRAGMA integrity_check` (`["ok"]` when
/// sound) and the names of its tables.
pub async fn inspect(file: &Path) -> Result<(Vec<String>, Vec<String>)> {
    let db = Database::connect(format!("sqlite://{}?mode=ro", file.display())).await?;
    let strings = |rows: Vec<sea_orm::QueryResult>| -> Vec<String> {
        rows.iter().filter_map(|r| r.try_get_by_index::<String>(0).ok()).collect()
    };
    let verdict = strings(db.query_all_raw(sqlite("PRAGMA integrity_check")).await?);
    let tables = strings(db.query_all_raw(sqlite("SELECT name FROM sqlite_master WHERE type = 'table'")).await?);
    db.close().await.map_err(Error::from)?;
    Ok((verdict, tables))
}
