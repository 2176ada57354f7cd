//! How the device callbacks and [`super::Player`] wake the DSP loop, wherever it runs:
//!
//! - on its own thread ([`DspWaker::Thread`]): `unpark`, an atomic swap plus a futex wake only if the
//!   thread sleeps;
//! - as a task on the live session's thread ([`DspWaker::EventFd`], Linux): one 8-byte `write` to an
//!   eventfd that the session's runtime polls. The write never blocks (the fd is non-blocking and a full
//!   counter only means a wake-up is already pending), takes no user-space lock and allocates nothing, so it
//!   is as fit for an audio callback as the futex wake.
//!
//! Why the second exists: on the live path the DSP thread's only job between two frames was to hand its
//! frame to the session thread, which woke in turn to send it. One thread doing both saves a wake-up, a
//! context switch and a cross-thread channel wake per 20 ms frame (see [`super::dsp`]).

#[cfg(target_os = "linux")]
use std::sync::Arc;
use std::thread::Thread;

#[cfg(target_os = "linux")]
mod eventfd;
#[cfg(target_os = "linux")]
pub use eventfd::EventFd;

/// What a callback or a player calls to wake the DSP loop. Cloned at setup only, never in a callback.
#[derive(Debug, Clone)]
pub enum DspWaker {
    Thread(Thread),
    #[cfg(target_os = "linux")]
    EventFd(Arc<EventFd>),
}

impl DspWaker {
    /// Wakes the DSP loop; cheap if it is awake already. Never blocks, locks or allocates.
    pub fn wake(&self) {
        match self {
            DspWaker::Thread(t) => t.unpark(),
            #[cfg(target_os = "linux")]
            DspWaker::EventFd(fd) => fd.signal(),
        }
    }
}
