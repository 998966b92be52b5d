//! WAL checkpoints off the commit path.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses its threshold: that
//! commit, and every publish grouped with it, waits while pages are copied into the
//! database file and the file is fsynced. Here a thread with its own connection runs a
//! `PASSIVE` checkpoint shortly after commits happen; a passive checkpoint never blocks
//! the writer or the readers. The writer keeps a far higher automatic threshold as a
//! backstop in case this thread falls behind. Once a checkpoint has copied every frame,
//! the writer's next transaction starts the WAL over from its beginning, so it stays
//! small.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;

/// How often the thread looks for new commits.
const PERIOD: Duration = Duration::from_millis(100);
/// The writer's own automatic checkpoint threshold, in pages (the backstop).
pub const WRITER_AUTOCHECKPOINT_PAGES: i64 = 16_384;

/// Counts the writer's commits; the checkpointer reads it.
#[derive(Clone, Default)]
pub struct Commits(Arc<AtomicU64>);

impl Commits {
    pub fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The checkpoint thread; it stops when this is dropped.
pub struct Checkpointer {
    stop: Arc<AtomicBool>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path` after commits counted by `commits`.
    pub fn start(path: &Path, commits: Commits) -> rusqlite::Result<Checkpointer> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "busy_timeout", 5000)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::Builder::new()
            .name("herald-sqlite-checkpoint".into())
            .spawn(move || run(conn, commits, &stopped))
            .expect("spawn the checkpoint thread");
        Ok(Checkpointer { stop })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn run(conn: Connection, commits: Commits, stop: &AtomicBool) {
    let mut seen = commits.get();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(PERIOD);
        let now = commits.get();
        if now == seen {
            continue;
        }
        seen = now;
        let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        if let Err(e) = done {
            tracing::warn!(error = %e, "WAL checkpoint failed; the writer's own threshold still applies");
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::store::sqlite::SqliteStore;
    use crate::store::KeyStore;

    /// Commits far below the writer's own threshold still reach the database file: the
    /// checkpoint thread copied them there, not the commits themselves.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commits_are_checkpointed_into_the_database_file_by_the_thread() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), crate::domain::Clock::system()).unwrap();
        let db = dir.path().join("herald.db");
        let size = || std::fs::metadata(&db).unwrap().len();
        let before = size();
        for i in 0..2_000 {
            let hash = format!("{i:0>200}");
            store.insert_key(format!("key_{i}"), hash, None).await.unwrap();
        }
        let written = std::fs::metadata(dir.path().join("herald.db-wal")).unwrap().len();
        assert!(
            written < super::WRITER_AUTOCHECKPOINT_PAGES as u64 * 4096,
            "the test must stay below the writer's threshold"
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while size() < before + 400_000 {
            assert!(
                std::time::Instant::now() < deadline,
                "the database file stayed at {} bytes (was {before})",
                size()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}
