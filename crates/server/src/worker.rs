//! Where synchronous store work runs: a small pool of plain OS threads outside the tokio
//! runtime. The sync `postgres` client drives its own runtime internally and refuses to run
//! on a thread that belongs to tokio (including `spawn_blocking` threads), so every engine
//! and store call from async code goes through [`off_runtime`].

use std::sync::mpsc::{Receiver, Sender, channel};
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
