//! The threads that run argon2: at most `max_threads` of them, each started when the work
//! waiting outnumbers the threads there are, each keeping one [`Memory`] for its life. Jobs
//! wait in one queue and are taken first come, first served.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use super::error::PasswordError;
use super::memory::Memory;
use crate::metrics::Queued;

/// Work for a pool thread: it computes in the thread's memory and returns how to hand the
/// answer over, which the thread does only once it counts as free again.
type Job = Box<dyn FnOnce(&mut Memory) -> Reply + Send>;
type Reply = Box<dyn FnOnce() + Send>;

/// A pool of argon2 threads. Dropping it lets its threads end once the queue is empty.
pub(super) struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    name: &'static str,
    max_threads: usize,
    state: Mutex<State>,
    job_queued: Condvar,
}

#[derive(Default)]
struct State {
    /// Unbounded: each job is a request waiting for its answer, a few hundred bytes, and the
    /// requests are bounded upstream (the layer's per-client login limit, the server's
    /// connections); a job whose caller has gone is dropped unrun. What a long queue costs is
    /// time, never argon2 memory.
    jobs: VecDeque<(Queued, Job)>,
    threads: usize,
    busy: usize,
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Jobs run outside the lock, so a poisoned lock still holds a consistent queue.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Pool {
    /// A pool of at most `max_threads` threads (at least one), named `<name>-<n>`; none is
    /// started before the first job.
    pub(super) fn new(name: &'static str, max_threads: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                name,
                max_threads: max_threads.max(1),
                state: Mutex::new(State::default()),
                job_queued: Condvar::new(),
            }),
        }
    }

    /// Queues `work` now and returns its answer, waited for asynchronously. If the returned
    /// future is dropped before a thread takes the job, the job is skipped.
    pub(super) fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> impl Future<Output = Result<T, PasswordError>> + Send + 'static {
        let (sender, receiver) = oneshot::channel();
        self.submit(Box::new(move |memory| {
            if sender.is_closed() {
                return Box::new(|| {});
            }
            let answer = work(memory);
            Box::new(move || {
                let _ = sender.send(answer);
            })
        }));
        async move { receiver.await.map_err(|_| unfinished()) }
    }

    /// Queues `work` and blocks the calling thread until its answer.
    pub(super) fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        self.submit(Box::new(move |memory| {
            let answer = work(memory);
            Box::new(move || {
                let _ = sender.send(answer);
            })
        }));
        receiver.recv().map_err(|_| unfinished())
    }

    fn submit(&self, job: Job) {
        let shared = &self.shared;
        let mut state = shared.lock();
        state.jobs.push_back((Queued::now(), job));
        // A thread more only when the queue outgrows the idle ones: memory (one block per
        // thread) follows the concurrency the load needs, not the number of CPUs.
        if state.jobs.len() + state.busy > state.threads && state.threads < shared.max_threads {
            match spawn(shared, state.threads) {
                Ok(()) => state.threads += 1,
                // Without any thread nothing would ever answer: the callers get `Task` now.
                Err(_) if state.threads == 0 => state.jobs.clear(),
                // The running threads will get to it.
                Err(_) => {}
            }
        }
        drop(state);
        shared.job_queued.notify_one();
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.job_queued.notify_all();
    }
}

fn unfinished() -> PasswordError {
    PasswordError::Task("the password hashing thread did not finish the job".to_owned())
}

fn spawn(shared: &Arc<Shared>, number: usize) -> std::io::Result<()> {
    let shared = shared.clone();
    std::thread::Builder::new()
        .name(format!("{}-{number}", shared.name))
        .spawn(move || take_jobs(&shared))
        .map(drop)
}

/// A pool thread's life: jobs in queue order until the pool is dropped and the queue empty.
fn take_jobs(shared: &Shared) {
    yield_to_requests();
    let mut memory = Memory::default();
    let mut state = shared.lock();
    loop {
        let Some((queued, job)) = state.jobs.pop_front() else {
            if state.closed {
                return;
            }
            state = shared
                .job_queued
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            continue;
        };
        state.busy += 1;
        drop(state);
        queued.started();
        // A panic drops the job and with it the caller's sender: the caller gets `Task`, and
        // this thread goes on with fresh memory.
        let reply = catch_unwind(AssertUnwindSafe(|| job(&mut memory)));
        if reply.is_err() {
            memory = Memory::default();
        }
        shared.lock().busy -= 1;
        // Counted free before the caller hears back, so a caller that queues its next job as
        // soon as it has this answer finds this thread, rather than starting another.
        if let Ok(reply) = reply {
            reply();
        }
        state = shared.lock();
    }
}

/// Puts this thread behind the async workers in the scheduler's eyes: `SCHED_BATCH` at the
/// lowest priority (nice 19) on Linux. During a storm of logins the CPUs then go first to the
/// requests of signed-in users, and hashing takes what is left, which on an idle machine is
/// everything. A thread may always lower its own priority; should the call fail all the same,
/// the thread runs at the ordinary priority, as before.
fn yield_to_requests() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::unix::{
            set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
            ThreadSchedulePolicy,
        };
        let batch = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch);
        let _ = set_thread_priority_and_policy(
            thread_native_id(),
            thread_priority::ThreadPriority::Min,
            batch,
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{mpsc, Barrier};

    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn pool_threads_run_behind_the_request_path() {
        use thread_priority::unix::{
            thread_schedule_policy, NormalThreadSchedulePolicy, ThreadSchedulePolicy,
        };
        let pool = Pool::new("test-priority", 1);
        let policy = pool
            .run_blocking(|_| thread_schedule_policy().unwrap())
            .unwrap();
        let batch = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch);
        assert_eq!(policy, batch);
        assert_ne!(
            thread_schedule_policy().unwrap(),
            batch,
            "the caller's is its own"
        );
    }

    fn thread_name() -> String {
        std::thread::current().name().unwrap_or_default().to_owned()
    }

    /// Occupies a thread of `pool` until the returned sender is dropped; returns once the job
    /// has started. The future must be kept, or the job would be skipped.
    fn occupy(
        pool: &Pool,
    ) -> (
        mpsc::Sender<()>,
        impl Future<Output = Result<(), PasswordError>>,
    ) {
        let (release, released) = mpsc::channel::<()>();
        let (started, has_started) = mpsc::channel();
        let job = pool.run(move |_| {
            started.send(()).unwrap();
            let _ = released.recv();
        });
        has_started.recv().unwrap();
        (release, job)
    }

    #[tokio::test]
    async fn jobs_run_in_the_order_they_were_queued() {
        let pool = Pool::new("test-order", 1);
        let (release, _occupied) = occupy(&pool);
        let order = Arc::new(Mutex::new(Vec::new()));
        let jobs: Vec<_> = (0..10)
            .map(|i| {
                let order = order.clone();
                pool.run(move |_| order.lock().unwrap().push(i))
            })
            .collect();
        drop(release);
        for job in jobs {
            job.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), (0..10).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn one_caller_at_a_time_uses_one_thread() {
        let pool = Pool::new("test-serial", 4);
        for _ in 0..20 {
            assert_eq!(pool.run(|_| thread_name()).await.unwrap(), "test-serial-0");
        }
        assert_eq!(pool.shared.lock().threads, 1);
    }

    #[tokio::test]
    async fn a_burst_runs_as_many_at_once_as_threads_and_no_more() {
        let pool = Pool::new("test-burst", 2);
        let (active, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        // Jobs meet in pairs: the burst completes only if two run at once.
        let pair = Arc::new(Barrier::new(2));
        let jobs: Vec<_> = (0..8)
            .map(|_| {
                let (active, most, pair) = (active.clone(), most.clone(), pair.clone());
                pool.run(move |_| {
                    most.fetch_max(active.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                    pair.wait();
                    active.fetch_sub(1, Ordering::SeqCst);
                    thread_name()
                })
            })
            .collect();
        let mut threads = Vec::new();
        for job in jobs {
            threads.push(job.await.unwrap());
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
        threads.sort();
        threads.dedup();
        assert_eq!(threads, ["test-burst-0", "test-burst-1"]);
    }

    #[tokio::test]
    async fn a_job_whose_caller_has_gone_is_skipped() {
        let pool = Pool::new("test-gone", 1);
        let (release, _occupied) = occupy(&pool);
        let ran = Arc::new(AtomicBool::new(false));
        let abandoned = {
            let ran = ran.clone();
            pool.run(move |_| ran.store(true, Ordering::SeqCst))
        };
        let after = pool.run(|_| ());
        drop(abandoned);
        drop(release);
        after.await.unwrap();
        assert!(!ran.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_panicking_job_fails_its_caller_and_not_the_others() {
        let pool = Pool::new("test-panic", 1);
        let panicked = pool.run(|_| -> u32 { panic!("a job panics") });
        let next = pool.run(|_| 7);
        assert!(matches!(panicked.await, Err(PasswordError::Task(_))));
        assert_eq!(next.await.unwrap(), 7);
        assert_eq!(pool.run_blocking(|_| 8).unwrap(), 8);
        assert_eq!(pool.shared.lock().threads, 1);
    }
}
