//! One writer thread owns the write connection and commits concurrent requests in groups:
//! it takes every operation waiting in its channel (up to [`MAX_BATCH`]), runs each inside
//! its own savepoint, commits once, and only then answers each caller. One fsync thus
//! serves many publishes, and nobody is told "stored" before the commit.
//!
//! Readers use a small pool of separate connections (WAL lets them run beside the writer).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::checkpoint::Commits;
use crate::store::{StoreError, StoreResult};

/// Most operations committed in one transaction.
pub const MAX_BATCH: usize = 256;

type Completion = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;
type Op = Box<dyn PendingOp>;

/// One caller's operation waiting for the writer.
trait PendingOp: Send {
    /// Runs inside the group transaction; says whether it succeeded and how to answer
    /// once the commit is known.
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Completion);
    /// Answers without running (the transaction could not start).
    fn fail(self: Box<Self>, err: &StoreError);
}

struct TypedOp<F, R> {
    f: F,
    reply: oneshot::Sender<StoreResult<R>>,
}

impl<F, R> PendingOp for TypedOp<F, R>
where
    R: Send + 'static,
    F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Completion) {
        let TypedOp { f, reply } = *self;
        let result = f(conn);
        let ok = result.is_ok();
        let done: Completion = Box::new(move |commit| {
            let out = match commit {
                Ok(()) => result,
                Err(e) => Err(StoreError::Commit(e.to_string())),
            };
            let _ = reply.send(out);
        });
        (ok, done)
    }

    fn fail(self: Box<Self>, err: &StoreError) {
        let _ = self.reply.send(Err(StoreError::Commit(err.to_string())));
    }
}

pub fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(Box::new(e))
}

/// Handle to the writer thread.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Op>,
}

impl Writer {
    /// Starts the writer thread on `conn`. It stops when every handle is dropped.
    pub fn start(conn: Connection, commits: Commits) -> Writer {
        let (tx, rx) = mpsc::channel::<Op>(4 * MAX_BATCH);
        std::thread::Builder::new()
            .name("herald-sqlite-writer".into())
            .spawn(move || run(conn, rx, commits))
            .expect("spawn the writer thread");
        Writer { tx }
    }

    /// Runs `f` in the next group transaction; resolves after the commit.
    pub async fn write<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let op: Op = Box::new(TypedOp { f, reply });
        self.tx.send(op).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

fn run(conn: Connection, mut rx: mpsc::Receiver<Op>, commits: Commits) {
    let mut batch: Vec<Op> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        commit_batch(&conn, &mut batch);
        commits.add();
    }
}

fn commit_batch(conn: &Connection, batch: &mut Vec<Op>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let err = backend(e);
        for op in batch.drain(..) {
            op.fail(&err);
        }
        return;
    }
    let mut completions = Vec::with_capacity(batch.len());
    let mut rolled_back = false;
    // Savepoint statements are prepared once (SQL parsing showed up in profiles).
    let run_sql = |sql: &str| {
        conn.prepare_cached(sql)
            .and_then(|mut st| st.execute([]).map(|_| ()))
    };
    for op in batch.drain(..) {
        let sp = run_sql("SAVEPOINT op");
        let (ok, done) = op.run(conn);
        rolled_back |= !ok;
        if sp.is_ok() {
            let end = if ok {
                run_sql("RELEASE op")
            } else {
                run_sql("ROLLBACK TO op").and_then(|_| run_sql("RELEASE op"))
            };
            if let Err(e) = end {
                tracing::error!(error = %e, "savepoint end failed");
            }
        }
        completions.push(done);
    }
    let commit = conn.execute_batch("COMMIT").map_err(backend);
    if commit.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    if commit.is_err() || rolled_back {
        // What a rolled-back operation changed may be cached: start from the table again.
        super::endpoints::invalidate_subscribers();
    }
    for done in completions {
        done(commit.as_ref().map(|_| ()));
    }
}

/// A few read connections used round-robin on the blocking pool.
pub struct Readers {
    conns: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

impl Readers {
    pub fn new(conns: Vec<Connection>) -> Arc<Self> {
        Arc::new(Self {
            conns: conns.into_iter().map(Mutex::new).collect(),
            next: AtomicUsize::new(0),
        })
    }

    pub async fn read<R, F>(self: &Arc<Self>, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let start = me.next.fetch_add(1, Ordering::Relaxed);
            let n = me.conns.len();
            // Take the first free connection, else wait on the one our turn points at.
            let guard = (0..n)
                .find_map(|i| me.conns[(start + i) % n].try_lock().ok())
                .unwrap_or_else(|| me.conns[start % n].lock().unwrap_or_else(|p| p.into_inner()));
            f(&guard)
        })
        .await
        .map_err(|_| StoreError::Closed)?
    }
}
