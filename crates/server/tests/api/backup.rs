//! `partner-portal backup` and `restore`, the binary itself against a serving instance: a backup
//! taken while keys are being written holds every key committed before it began, restores into
//! a new data dir, and a restore onto the database an instance serves from is refused.

use std::sync::{Arc, Mutex};

use crate::helpers::*;

fn portal(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_partner-portal")).args(args).output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The ids of the keys in a SQLite file, read-only.
async fn key_ids(file: &std::path::Path) -> Vec<String> {
    use sea_orm::ConnectionTrait as _;
    let db = sea_orm::Database::connect(format!("sqlite://{}?mode=ro", file.display())).await.unwrap();
    let select = sea_orm::Statement::from_string(sea_orm::DbBackend::Sqlite, "SELECT id FROM api_keys");
    let rows = db.query_all_raw(select).await.unwrap();
    let ids = rows.iter().map(|r| r.try_get_by_index::<uuid::Uuid>(0).unwrap().to_string()).collect();
    db.close().await.unwrap();
    ids
}

#[tokio::test]
async fn a_backup_taken_under_write_load_restores_every_committed_key() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("portal-backup.db");
    let file_arg = file.to_str().unwrap();
    if !app.database_url.starts_with("sqlite:") {
        // PostgreSQL has its own tools: the command says which.
        let out = portal(&["--database-url", &app.database_url, "backup", file_arg]);
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains("pg_dump"), "{}", text(&out.stderr));
        return;
    }
    let (owner, _) = app.signed_in("owner@backup.test").await;
    let team = app.create_team(&owner, "Backed up").await;

    // Two writers make keys until told to stop; each key is recorded once its creation answered
    // (committed), and the count is published.
    let committed = Arc::new(Mutex::new(Vec::<String>::new()));
    let (count_tx, mut count_rx) = tokio::sync::watch::channel(0usize);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let count_tx = Arc::new(count_tx);
    let app = Arc::new(app);
    let mut writers = Vec::new();
    for writer in 0..2 {
        let (app, owner, team, committed, count_tx, stop_rx) =
            (app.clone(), owner.clone(), team.clone(), committed.clone(), count_tx.clone(), stop_rx.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while !*stop_rx.borrow() {
                let (id, _) = app.simple_key(&owner, &team, &format!("writer {writer} key {n}")).await;
                n += 1;
                let total = {
                    let mut all = committed.lock().unwrap();
                    all.push(id);
                    all.len()
                };
                count_tx.send_replace(total);
            }
        }));
    }
    count_rx.wait_for(|n| *n >= 20).await.unwrap();
    let before: Vec<String> = committed.lock().unwrap().clone();
    let out = portal(&["--database-url", &app.database_url, "backup", file_arg]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("integrity ok"), "{}", text(&out.stdout));
    // The writers went on during the backup and after it.
    let after_backup = committed.lock().unwrap().len();
    count_rx.wait_for(|n| *n >= after_backup + 10).await.unwrap();
    stop_tx.send_replace(true);
    for writer in writers {
        writer.await.unwrap();
    }
    let all: Vec<String> = committed.lock().unwrap().clone();

    // A second backup to the same file is refused; the file is kept.
    let again = portal(&["--database-url", &app.database_url, "backup", file_arg]);
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("exists already"), "{}", text(&again.stderr));

    // Restored into a new data dir: every key committed before the backup began is there, and
    // nothing that was never committed.
    let restored_dir = tempfile::tempdir().unwrap();
    let out = portal(&["--data-dir", restored_dir.path().to_str().unwrap(), "restore", file_arg]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ids = key_ids(&restored_dir.path().join("portal.db")).await;
    for id in &before {
        assert!(ids.contains(id), "key {id}, committed before the backup, is in it");
    }
    assert!(ids.iter().all(|id| all.contains(id)), "only committed keys");
    assert!(ids.len() >= before.len() && ids.len() <= all.len());

    // A restore onto the database that an instance serves from is refused, and changes nothing.
    let out = portal(&["--database-url", &app.database_url, "restore", file_arg]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("serving"), "{}", text(&out.stderr));
    let live = portal_server::backup::sqlite_file(&app.database_url).unwrap();
    assert_eq!(key_ids(&live).await.len(), all.len(), "the live database keeps every key");
    // Something that is not a portal database is refused before anything moves.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database").unwrap();
    let out = portal(&["--data-dir", restored_dir.path().to_str().unwrap(), "restore", junk.to_str().unwrap()]);
    assert!(!out.status.success(), "{}", text(&out.stdout));
}
