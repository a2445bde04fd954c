//! The streaming loop every pass of a run goes through (polars' streaming engine feeding
//! fixed-size batches to a step on a thread of its own), and the interruption flag it
//! checks between batches.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};

use polars::prelude::*;

use super::EngineError;

/// Rows per batch, and so per Parquet row group. Fixed, so that the output's bytes do not
/// depend on how many threads read the input.
pub(super) const BATCH_ROWS: usize = 128 * 1024;

/// Set when the process is asked to stop (SIGINT, SIGTERM); see [`interruption`].
static INTERRUPTION: std::sync::OnceLock<Arc<std::sync::atomic::AtomicBool>> =
    std::sync::OnceLock::new();

/// The flag a signal handler sets to stop a run between batches: the run then ends with
/// [`EngineError::Interrupted`], its temporary files removed and nothing written.
pub fn interruption() -> Arc<std::sync::atomic::AtomicBool> {
    Arc::clone(INTERRUPTION.get_or_init(Default::default))
}

/// Whether the process has been asked to stop.
pub fn interrupted() -> bool {
    INTERRUPTION
        .get()
        .is_some_and(|flag| flag.load(std::sync::atomic::Ordering::Relaxed))
}

/// An error once the process has been asked to stop.
pub(super) fn check_interrupted() -> Result<(), EngineError> {
    match INTERRUPTION.get() {
        Some(flag) if flag.load(std::sync::atomic::Ordering::Relaxed) => {
            Err(EngineError::Interrupted)
        }
        _ => Ok(()),
    }
}

/// Feed `frame` to `step` in fixed-size batches, in order, from polars' streaming
/// engine, and give `state` back at the end. Stops at the first error, or when the
/// process is interrupted; `read_error` words a failure of the engine itself.
pub(super) fn stream<S: Send + 'static>(
    frame: LazyFrame,
    state: S,
    step: impl Fn(&mut S, DataFrame) -> Result<(), EngineError> + Send + 'static,
    read_error: impl FnOnce(PolarsError) -> EngineError,
) -> Result<S, EngineError> {
    // The steps run on a thread of their own, so that polars reads the next batch while
    // this one is transformed: one batch in a step, one queued, and one in the callback
    // waiting to be queued.
    let (batches, queue) = std::sync::mpsc::sync_channel::<DataFrame>(1);
    let worker = std::thread::Builder::new()
        .name("doel-steps".into())
        .spawn(move || {
            let mut state = state;
            for batch in queue {
                // An error drops the queue: the callback's next send fails.
                check_interrupted().and_then(|()| step(&mut state, batch))?;
            }
            Ok(state)
        })
        .map_err(|e| EngineError::Internal(format!("cannot start a thread: {}", e.kind())))?;
    let steps = Steps {
        batches: Arc::new(Mutex::new(Some(batches))),
        worker: Some(worker),
    };
    let callback = {
        let batches = Arc::clone(&steps.batches);
        PlanCallback::new(move |batch: DataFrame| {
            let mut guard = batches.lock().unwrap_or_else(PoisonError::into_inner);
            if guard.as_ref().is_some_and(|b| b.send(batch).is_ok()) {
                return Ok(false);
            }
            // The steps stopped: close the queue, and ask the engine to stop reading.
            *guard = None;
            Ok(true)
        })
    };
    let result = frame
        .sink_batches(callback, true, NonZeroUsize::new(BATCH_ROWS))
        .and_then(|sink| sink.collect_with_engine(Engine::Streaming));
    let state = steps.finish()?;
    result.map_err(read_error)?;
    Ok(state)
}

/// The thread of [`stream`]'s steps and the queue to it. Finished, or dropped when polars
/// panics, it closes the queue (whether or not polars still holds the callback) and waits
/// for the thread, which then drops its state, and so an output's temporary file.
struct Steps<S> {
    batches: Arc<Mutex<Option<std::sync::mpsc::SyncSender<DataFrame>>>>,
    worker: Option<std::thread::JoinHandle<Result<S, EngineError>>>,
}

impl<S> Steps<S> {
    fn finish(mut self) -> Result<S, EngineError> {
        self.close()
            .unwrap_or_else(|| Err(EngineError::Internal("the steps' thread is gone".into())))
    }

    fn close(&mut self) -> Option<Result<S, EngineError>> {
        *self.batches.lock().unwrap_or_else(PoisonError::into_inner) = None;
        let joined = self.worker.take()?.join();
        Some(joined.unwrap_or_else(|_| {
            Err(EngineError::Internal(
                "a transformation thread panicked".into(),
            ))
        }))
    }
}

impl<S> Drop for Steps<S> {
    fn drop(&mut self) {
        drop(self.close());
    }
}
