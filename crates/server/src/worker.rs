//! Where synchronous store work runs: a small pool of plain OS threads outside the tokio
//! runtime, and group-commit writer threads. The sync `postgres` client drives its own
//! runtime internally and refuses to run on a thread that belongs to tokio (including
//! `spawn_blocking` threads), so every engine and store call from async code goes through
//! [`off_runtime`] or a [`GroupCommit`] writer.

use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex, OnceLock};

type Job = Box<dyn FnOnce() + Send>;

const THREADS: usize = 4;

fn pool() -> &'static Mutex<Sender<Job>> {
    static POOL: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (sender, receiver) = channel::<Job>();
        let receiver: Arc<Mutex<Receiver<Job>>> = Arc::new(Mutex::new(receiver));
        for index in 0..THREADS {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("cartback-store-{index}"))
                .spawn(move || {
                    loop {
                        let job = {
                            let guard = receiver.lock().unwrap_or_else(|p| p.into_inner());
                            guard.recv()
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .expect("spawning a store thread");
        }
        Mutex::new(sender)
    })
}

/// Runs `f` on a store thread and awaits its result; a panic in `f` resumes in the caller.
pub async fn off_runtime<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = reply.send(result);
    });
    pool()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send(job)
        .expect("store threads run for the life of the process");
    match answer.await.expect("a store thread answers every job") {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Owns a value whose destructor must not run on a tokio thread (the sync `postgres`
/// client blocks on its own runtime when dropped); on such a thread the value is dropped
/// on a short-lived plain thread instead.
pub struct DropOffRuntime<T: Send + 'static>(Option<T>);

impl<T: Send + 'static> DropOffRuntime<T> {
    pub fn new(value: T) -> Self {
        DropOffRuntime(Some(value))
    }
}

impl<T: Send + 'static> std::ops::Deref for DropOffRuntime<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.as_ref().expect("present until dropped")
    }
}

impl<T: Send + 'static> std::ops::DerefMut for DropOffRuntime<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.as_mut().expect("present until dropped")
    }
}

impl<T: Send + 'static> Drop for DropOffRuntime<T> {
    fn drop(&mut self) {
        if let Some(value) = self.0.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                let _ = std::thread::spawn(move || drop(value)).join();
            } else {
                drop(value);
            }
        }
    }
}

/// Checkpoints a SQLite database's write-ahead log from its own connection and thread.
///
/// Otherwise SQLite checkpoints inside the commit that grows the WAL past its threshold:
/// the engine's writer stops to copy the whole WAL into the database and to wait for the
/// fsyncs, and every request waiting on the writer waits with it (measured: 40–80 ms every
/// ~0.4 s at 2,000 single-event requests/s). A passive checkpoint from another connection
/// copies the frames beside the writer (it never takes the write lock), so when the
/// writer's own threshold is reached there is little left to copy and sync; and whenever
/// the checkpointer catches up while the writer pauses, the writer starts the WAL again
/// from its beginning. Stops when dropped.
///
/// The interval is short because what the writer's own checkpoint (when the WAL reaches its
/// threshold, about once a second at 2,000 single-event requests/s) still has to copy and
/// sync is what arrived since the checkpointer's last round: with rounds every 250 ms that
/// stalled one group commit for 17–25 ms every second (p99 21–30 ms in `examples/loadgen`),
/// every 25 ms p99 fell to 11 ms. A round with nothing to copy only reads the WAL index.
pub struct WalCheckpointer {
    _stop: Sender<()>,
}

impl WalCheckpointer {
    /// How often the WAL is checkpointed.
    pub const EVERY: std::time::Duration = std::time::Duration::from_millis(25);

    /// Starts checkpointing the SQLite database at `location`; `None` for PostgreSQL, an
    /// in-memory database, or a file that cannot be opened (then SQLite's own automatic
    /// checkpoints remain, and a warning says why).
    pub fn for_location(location: &str) -> Option<WalCheckpointer> {
        let location = location.trim();
        if cartback_store::is_postgres_url(location) || location == ":memory:" {
            return None;
        }
        match Self::spawn(location, Self::EVERY) {
            Ok(checkpointer) => Some(checkpointer),
            Err(error) => {
                tracing::warn!(%error, "WAL checkpoints stay inside commits");
                None
            }
        }
    }

    fn spawn(path: &str, every: std::time::Duration) -> Result<WalCheckpointer, String> {
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = rusqlite::Connection::open_with_flags(path, flags)
            .map_err(|e| format!("opening {path}: {e}"))?;
        // A checkpoint that finds the database busy is simply tried at the next round.
        conn.busy_timeout(std::time::Duration::from_millis(20))
            .map_err(|e| e.to_string())?;
        let (stop, stopped) = channel::<()>();
        std::thread::Builder::new()
            .name("cartback-checkpoint".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(every)
                {
                    let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                        row.get::<_, i64>(0)
                    });
                    if let Err(error) = done {
                        tracing::debug!(%error, "WAL checkpoint skipped");
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(WalCheckpointer { _stop: stop })
    }
}

/// A request waiting in a [`GroupCommit`] queue, with where its answer goes.
struct Pending<Req, Out> {
    request: Req,
    reply: tokio::sync::oneshot::Sender<Out>,
}

/// The writer thread of a [`GroupCommit`] is gone (its `write` panicked, or the value it
/// writes to was dropped); the request was not handled.
#[derive(Debug, thiserror::Error)]
#[error("the {0} writer stopped before answering")]
pub struct WriterGone(pub String);

/// Group commit: one plain OS thread writes, and requests queue for it. Each time it wakes
/// it takes every request already queued (while their summed weight stays within a cap, and
/// always at least one) and hands them to `write` in one call — one transaction for all of
/// them — then answers each request with its own output. Under load, groups grow by
/// themselves (what arrives during a commit goes into the next one), so the fixed cost of a
/// transaction is shared instead of paid per request; an idle queue adds no delay.
pub struct GroupCommit<Req: Send + 'static, Out: Send + 'static> {
    name: String,
    queue: Sender<Pending<Req, Out>>,
}

impl<Req: Send + 'static, Out: Send + 'static> GroupCommit<Req, Out> {
    /// Starts the writer thread `name`. `write` gets the requests of a group in arrival order
    /// and must return one output per request, in the same order (a missing output drops
    /// that request's answer: the caller sees [`WriterGone`]). The thread ends when the
    /// `GroupCommit` is dropped.
    pub fn spawn(
        name: &str,
        cap: usize,
        weight: fn(&Req) -> usize,
        mut write: impl FnMut(Vec<Req>) -> Vec<Out> + Send + 'static,
    ) -> std::io::Result<Self> {
        let (queue, inbox) = channel::<Pending<Req, Out>>();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let mut carried: Option<Pending<Req, Out>> = None;
                loop {
                    let first = match carried.take() {
                        Some(pending) => pending,
                        None => match inbox.recv() {
                            Ok(pending) => pending,
                            Err(_) => return,
                        },
                    };
                    let mut total = weight(&first.request);
                    let mut group = vec![first];
                    while total < cap {
                        match inbox.try_recv() {
                            Ok(next) => {
                                let w = weight(&next.request);
                                if total + w > cap {
                                    carried = Some(next);
                                    break;
                                }
                                total += w;
                                group.push(next);
                            }
                            Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                        }
                    }
                    let (requests, replies): (Vec<Req>, Vec<_>) =
                        group.into_iter().map(|p| (p.request, p.reply)).unzip();
                    // A panic drops the replies: every waiting caller gets `WriterGone`.
                    let outputs =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write(requests)))
                            .unwrap_or_default();
                    for (reply, output) in replies.into_iter().zip(outputs) {
                        let _ = reply.send(output);
                    }
                }
            })?;
        Ok(GroupCommit {
            name: name.to_owned(),
            queue,
        })
    }

    /// Queues `request` for the next group; the receiver gets its output.
    fn enqueue(&self, request: Req) -> Result<tokio::sync::oneshot::Receiver<Out>, WriterGone> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.queue
            .send(Pending { request, reply })
            .map_err(|_| WriterGone(self.name.clone()))?;
        Ok(answer)
    }

    /// Queues `request` for the next group and waits for its output.
    pub async fn submit(&self, request: Req) -> Result<Out, WriterGone> {
        let answer = self.enqueue(request)?;
        answer.await.map_err(|_| WriterGone(self.name.clone()))
    }

    /// [`GroupCommit::submit`] for a caller outside any async runtime: blocks until answered.
    pub fn submit_blocking(&self, request: Req) -> Result<Out, WriterGone> {
        let answer = self.enqueue(request)?;
        answer
            .blocking_recv()
            .map_err(|_| WriterGone(self.name.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn queued_requests_are_written_together_within_the_cap_and_each_gets_its_own_answer() {
        // The writer blocks inside its first group, so the next requests queue up and must
        // be taken together (within the cap) once it is released.
        let (entered_tx, entered_rx) = mpsc::channel::<()>();
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        let groups = Arc::new(Mutex::new(Vec::<Vec<usize>>::new()));
        let seen = groups.clone();
        let writer = GroupCommit::spawn(
            "test-writer",
            10,
            |r: &usize| *r,
            move |requests: Vec<usize>| {
                if requests == [1] {
                    entered_tx.send(()).unwrap();
                    gate_rx.recv().unwrap();
                }
                seen.lock().unwrap().push(requests.clone());
                requests.into_iter().map(|r| r * 100).collect()
            },
        )
        .unwrap();
        let first = writer.enqueue(1).unwrap();
        entered_rx.recv().unwrap();
        let rest: Vec<_> = [4, 5, 3, 2]
            .into_iter()
            .map(|r| (r, writer.enqueue(r).unwrap()))
            .collect();
        gate_tx.send(()).unwrap();
        assert_eq!(first.blocking_recv().unwrap(), 100);
        for (r, answer) in rest {
            assert_eq!(answer.blocking_recv().unwrap(), r * 100, "request {r}");
        }
        let groups = groups.lock().unwrap().clone();
        // 4 + 5 fit the cap of 10, 3 does not: it starts the next group, with 2.
        assert_eq!(groups, [vec![1], vec![4, 5], vec![3, 2]]);
    }

    #[test]
    fn a_request_over_the_cap_is_written_alone() {
        let writer = GroupCommit::spawn(
            "test-big",
            10,
            |r: &usize| *r,
            |requests: Vec<usize>| vec![requests.len(); requests.len()],
        )
        .unwrap();
        assert_eq!(writer.submit_blocking(50).unwrap(), 1);
    }

    #[test]
    fn the_checkpointer_keeps_the_wal_from_growing_while_a_writer_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db");
        let writer = rusqlite::Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; \
                 CREATE TABLE t (x BLOB);",
            )
            .unwrap();
        let wal_bytes = || {
            std::fs::metadata(dir.path().join("wal.db-wal"))
                .map(|m| m.len())
                .unwrap_or(0)
        };
        let commit = |n: usize| {
            for _ in 0..n {
                writer
                    .execute("INSERT INTO t VALUES (zeroblob(4000))", [])
                    .unwrap();
            }
        };
        // Without checkpoints (autocheckpoint is off) the WAL only grows.
        commit(200);
        let unchecked = wal_bytes();
        assert!(unchecked > 200 * 4000, "{unchecked}");
        let checkpointer =
            WalCheckpointer::spawn(path.to_str().unwrap(), std::time::Duration::from_millis(5))
                .unwrap();
        // As many rows again, in small commits with pauses: the checkpointer catches up in
        // the pauses and the writer restarts the WAL, so it stays well below twice its size.
        for _ in 0..40 {
            commit(5);
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        assert!(
            wal_bytes() < unchecked * 3 / 2,
            "{} ≥ 1.5 × {unchecked}",
            wal_bytes()
        );
        drop(checkpointer);
        assert!(WalCheckpointer::for_location("postgres://x@localhost/db").is_none());
        assert!(WalCheckpointer::for_location(":memory:").is_none());
    }

    #[test]
    fn a_panicking_write_answers_writer_gone_and_the_writer_goes_on() {
        let writer = GroupCommit::spawn(
            "test-panic",
            1,
            |_: &u32| 1,
            |requests: Vec<u32>| {
                assert!(requests != [13], "unlucky request");
                requests
            },
        )
        .unwrap();
        let error = writer.submit_blocking(13).unwrap_err();
        assert!(error.to_string().contains("test-panic"), "{error}");
        assert_eq!(writer.submit_blocking(7).unwrap(), 7);
    }
}
