//! The DSP loop as a task on the live session's own thread ([`super::super::AudioEngine::start_local`]).
//!
//! With a thread of its own, every 20 ms frame cost two wake-ups: the capture callback woke the DSP thread,
//! which cleaned the frame and woke the session thread to send it. Measured with `perf` on
//! `scripts/measure-live.sh`, the hand-over (the channel's eventfd write, the second thread's sleep and
//! wake) was a sixth of the client's CPU. Here the capture callback signals an eventfd that the session's
//! runtime polls, the loop runs its turn, and the frame it makes is sent on the same wake-up.
//!
//! The turns are the thread's ([`Dsp::turn`]); only the sleep differs: the task waits for the eventfd or
//! the safety tick instead of parking. A turn never awaits, so nothing else on the thread runs in the middle
//! of one, and a busy loop gives way through tokio's cooperative budget.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;

use super::{AudioError, Dsp};

/// The safety tick on the session's thread: longer than the thread's [`super::WOKEN_TICK`] because of
/// tokio's timer wheel, which keeps a deadline across a 64 ms boundary in a coarser level and wakes the
/// thread up to 63 ms before it to move it down. A 30 ms timer re-made every frame was hit by that about a
/// third of the time. From 120 ms away that move comes later than the next frame, which replaces the
/// timer. The devices wake the loop on every period and on a failure, so this only bounds a stall.
const LOCAL_TICK: std::time::Duration = std::time::Duration::from_millis(120);

/// The DSP loop for the caller to poll (see [`beside`]); [`DspTask::none`] when it runs on a thread.
pub struct DspTask(Option<Pin<Box<dyn Future<Output = ()>>>>);

impl DspTask {
    /// Nothing to poll: the loop runs on its own thread.
    pub fn none() -> DspTask {
        DspTask(None)
    }

    /// The loop of `dsp`, woken through a new eventfd.
    #[cfg(target_os = "linux")]
    pub(crate) fn local(dsp: Dsp) -> Result<DspTask, AudioError> {
        let fd =
            super::super::wake::EventFd::new().map_err(|e| AudioError::Setup(format!("DSP wake-up eventfd: {e}")))?;
        Ok(DspTask(Some(Box::pin(run(dsp, std::sync::Arc::new(fd))))))
    }

    /// True once the loop has ended (or if there never was one to poll).
    pub fn is_done(&self) -> bool {
        self.0.is_none()
    }

    /// Polls the loop alone until it ends (after [`super::super::AudioEngine::stop`] or a device failure).
    pub async fn run(&mut self) {
        std::future::poll_fn(|cx| self.poll_loop(cx)).await
    }

    /// Polls the loop once; drops it once it has ended (then ready at once).
    fn poll_loop(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        let Some(t) = self.0.as_mut() else {
            return std::task::Poll::Ready(());
        };
        let done = t.as_mut().poll(cx);
        if done.is_ready() {
            self.0 = None;
        }
        done
    }
}

/// Runs `work` to its end while polling `task` beside it, on this thread; the task's own end (the engine
/// stopped or a device failed, which its events report) does not end `work`.
pub async fn beside<F: Future>(task: &mut DspTask, work: F) -> F::Output {
    let mut work = std::pin::pin!(work);
    std::future::poll_fn(|cx| {
        let _ = task.poll_loop(cx);
        work.as_mut().poll(cx)
    })
    .await
}

/// Marks the loop finished however it ends, dropped with the task included.
struct Finished<'a>(&'a super::Shared);

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.0.finished.store(true, Ordering::Release);
    }
}

#[cfg(target_os = "linux")]
async fn run(mut dsp: Dsp, fd: std::sync::Arc<super::super::wake::EventFd>) {
    let shared = dsp.shared.clone();
    let _finished = Finished(&shared);
    let result = turns(&mut dsp, fd).await;
    dsp.report(result);
}

#[cfg(target_os = "linux")]
async fn turns(dsp: &mut Dsp, fd: std::sync::Arc<super::super::wake::EventFd>) -> Result<(), AudioError> {
    use super::super::denormals::ScopedFlushToZero;
    use tokio::io::unix::AsyncFd;
    use tokio::io::Interest;

    // SAFETY: the AsyncFd holds a clone of the Arc, which keeps the eventfd open, and `as_raw_fd` always
    // returns that same fd.
    let ready = unsafe { AsyncFd::register_with_interest(fd.clone(), Interest::READABLE) }
        .map_err(|e| AudioError::Setup(format!("DSP wake-up eventfd: {e}")))?;
    let mut st = dsp.prepare(super::DspWaker::EventFd(fd.clone()))?;
    while !dsp.stopped() {
        let busy = {
            let _flush = ScopedFlushToZero::new();
            dsp.turn(&mut st)?
        };
        if busy || dsp.take_waiting(&mut st) {
            tokio::task::consume_budget().await;
            continue;
        }
        if !fd.arm() {
            continue; // a callback came during the turn
        }
        // a new timer each time: resetting one to a later deadline leaves tokio's wheel entry at the old
        // one, which woke the thread 10 ms after every frame for nothing (see LOCAL_TICK too)
        tokio::select! {
            biased;
            guard = ready.readable() => {
                // read the count back before clearing readiness: a signal after the read is a new edge
                fd.woke();
                if let Ok(mut guard) = guard {
                    guard.clear_ready();
                }
            }
            _ = tokio::time::sleep(st.tick.max(LOCAL_TICK)) => {
                fd.woke();
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn beside_runs_the_work_to_its_end_after_the_task_ended() {
        let mut task = DspTask(Some(Box::pin(async {})));
        let out = beside(&mut task, async {
            tokio::task::yield_now().await;
            7
        })
        .await;
        assert_eq!(out, 7);
        assert!(task.is_done(), "the finished task was dropped");
    }

    #[tokio::test]
    async fn beside_polls_the_task_while_the_work_waits() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut task = DspTask(Some(Box::pin(async move {
            let _ = tx.send(3);
            std::future::pending::<()>().await
        })));
        // the work can only finish if the task ran beside it
        let got = beside(&mut task, rx).await;
        assert_eq!(got, Ok(3));
        assert!(!task.is_done());
    }
}
