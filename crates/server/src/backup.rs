//! Backup and restore of a SQLite deployment (`partner-portal backup <file>`,
//! `partner-portal restore <file>`). A backup is taken while the portal serves, with SQLite's
//! `VACUUM INTO`: one read transaction, so the copy holds every transaction committed before it
//! began and none after, and it is checked (`PRAGMA integrity_check`) before the command says it
//! worked. A restore refuses to run while any instance serves from the database: every serving
//! instance holds a shared lock on `<database>.lock`, and the restore takes it exclusively. The
//! database it replaces is kept beside it (`<database>.before-restore-<time>`).
//!
//! PostgreSQL has its own tools: the README gives the `pg_dump`/`pg_restore` recipe.

use std::fs::File;
use std::path::{Path, PathBuf};

/// The file of a SQLite database URL (`sqlite://path?mode=rwc`, `sqlite:path`); None for
/// another database.
pub fn sqlite_file(database_url: &str) -> Option<PathBuf> {
    let rest = database_url.strip_prefix("sqlite://").or_else(|| database_url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

fn open_lock(database: &Path) -> std::io::Result<File> {
    File::options().read(true).write(true).create(true).truncate(false).open(lock_path(database))
}

/// The shared lock a serving instance holds on its SQLite database, so that a restore cannot
/// replace the file under it. Released when dropped (or when the process ends, however it ends).
pub struct ServingLock {
    _file: File,
}

impl ServingLock {
    /// Takes the shared lock of the database of `database_url` (nothing for PostgreSQL).
    pub fn take(database_url: &str) -> std::io::Result<Option<Self>> {
        let Some(database) = sqlite_file(database_url) else { return Ok(None) };
        let file = open_lock(&database)?;
        file.lock_shared()?;
        Ok(Some(Self { _file: file }))
    }
}

/// What a backup wrote.
#[derive(Debug)]
pub struct Written {
    pub bytes: u64,
    pub tables: usize,
}

fn not_sqlite() -> String {
    "the database is PostgreSQL: back it up with pg_dump and restore it with pg_restore (see the README, \
     \"Backup and restore\")"
        .to_owned()
}

/// Checks a SQLite file: SQLite's integrity check, and that it is a portal database; returns how
/// many tables it holds.
async fn check(file: &Path) -> Result<usize, String> {
    let (verdict, tables) =
        portal_db::backup::inspect(file).await.map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    if verdict != ["ok"] {
        return Err(format!("{} fails SQLite's integrity check: {}", file.display(), verdict.join("; ")));
    }
    if !tables.iter().any(|n| n == "seaql_migrations") || !tables.iter().any(|n| n == "api_keys") {
        return Err(format!("{} is not a Partner Portal database", file.display()));
    }
    Ok(tables.len())
}

/// Copies the live database of `database_url` into `target` (which must not exist), consistently,
/// while the portal serves; then checks the copy.
pub async fn backup(database_url: &str, target: &Path) -> Result<Written, String> {
    if sqlite_file(database_url).is_none() {
        return Err(not_sqlite());
    }
    if target.exists() {
        return Err(format!("{} exists already: choose a new file", target.display()));
    }
    let db = portal_db::connect(database_url).await.map_err(|e| format!("cannot open the database: {e}"))?;
    let target_text = target.to_str().ok_or_else(|| format!("{} is not a UTF-8 path", target.display()))?;
    portal_db::backup::vacuum_into(&db, target_text).await.map_err(|e| format!("the backup failed: {e}"))?;
    db.close().await.map_err(|e| e.to_string())?;
    let tables = check(target).await?;
    let bytes = std::fs::metadata(target).map_err(|e| e.to_string())?.len();
    Ok(Written { bytes, tables })
}

/// Replaces the database of `database_url` by the backup `source` (checked first), unless an
/// instance serves from it. The replaced database is kept beside it; returns where.
pub async fn restore(database_url: &str, source: &Path) -> Result<Option<PathBuf>, String> {
    let Some(database) = sqlite_file(database_url) else { return Err(not_sqlite()) };
    if !source.is_file() {
        return Err(format!("{} is not a file", source.display()));
    }
    check(source).await?;
    if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let lock = open_lock(&database).map_err(|e| format!("cannot open {}: {e}", lock_path(&database).display()))?;
    if lock.try_lock().is_err() {
        return Err(format!(
            "the portal is serving from {}: stop every instance that uses it, then restore",
            database.display()
        ));
    }
    let kept = if database.exists() {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let kept = PathBuf::from(format!("{}.before-restore-{stamp}", database.display()));
        for suffix in ["", "-wal", "-shm"] {
            let from = PathBuf::from(format!("{}{suffix}", database.display()));
            if from.exists() {
                let to = PathBuf::from(format!("{}{suffix}", kept.display()));
                std::fs::rename(&from, &to).map_err(|e| format!("cannot move {} aside: {e}", from.display()))?;
            }
        }
        Some(kept)
    } else {
        None
    };
    let incoming = PathBuf::from(format!("{}.restoring", database.display()));
    std::fs::copy(source, &incoming).map_err(|e| format!("cannot copy {}: {e}", source.display()))?;
    File::open(&incoming).and_then(|f| f.sync_all()).map_err(|e| e.to_string())?;
    std::fs::rename(&incoming, &database).map_err(|e| format!("cannot put the backup in place: {e}"))?;
    drop(lock);
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sqlite_urls_name_a_file() {
        assert_eq!(sqlite_file("sqlite://data/portal.db?mode=rwc"), Some(PathBuf::from("data/portal.db")));
        assert_eq!(sqlite_file("sqlite:/tmp/x.db"), Some(PathBuf::from("/tmp/x.db")));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://postgres@127.0.0.1/portal"), None);
    }
}
