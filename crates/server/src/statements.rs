//! Counting the SQL statements each request runs (`PORTAL_DEBUG_STATEMENT_COUNT`): the count goes
//! out in the `x-db-statements` header, so that tests can hold every endpoint to a statement
//! budget and an N+1 cannot come back unnoticed. Off by default: then nothing is counted.

use std::cell::Cell;
use std::future::Future;

use portal_db::DatabaseConnection;

tokio::task_local! {
    static STATEMENTS: Cell<u32>;
}

/// The header that carries the count.
pub const HEADER: &str = "x-db-statements";

/// Makes `db` count every statement it runs for the request being served (clones made after
/// this share the callback).
pub fn install(db: &mut DatabaseConnection) {
    db.set_metric_callback(|_| {
        let _ = STATEMENTS.try_with(|n| n.set(n.get() + 1));
    });
}

/// Runs `request`, counting the statements it runs on a connection set up with [`install`].
pub async fn counting<F: Future>(request: F) -> (F::Output, u32) {
    STATEMENTS
        .scope(Cell::new(0), async {
            let out = request.await;
            (out, STATEMENTS.with(Cell::get))
        })
        .await
}
