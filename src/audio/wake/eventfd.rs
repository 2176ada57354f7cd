//! The Linux eventfd the DSP loop on the session's thread sleeps on (see [`super`]).

/// A non-blocking Linux eventfd with the parking protocol of std's thread parker, so that only a wake-up
/// of a loop that sleeps costs a syscall. The callbacks of one 20 ms period come in a burst of four or five;
/// the first wakes the loop and the rest find it running (as `unpark` does).
///
/// States: running, armed (about to sleep or asleep), notified (woken while running: the loop runs another
/// turn instead of sleeping).
#[derive(Debug)]
pub struct EventFd {
    fd: std::os::fd::OwnedFd,
    state: std::sync::atomic::AtomicU8,
}

const RUNNING: u8 = 0;
const ARMED: u8 = 1;
const NOTIFIED: u8 = 2;

impl EventFd {
    pub fn new() -> std::io::Result<EventFd> {
        use std::os::fd::FromRawFd;
        // SAFETY: eventfd takes no pointers; a non-negative result is a new fd that we own from here on.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(EventFd {
            // SAFETY: fd is open and owned by nothing else.
            fd: unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) },
            state: std::sync::atomic::AtomicU8::new(RUNNING),
        })
    }

    /// Wakes the loop: marks it notified, and if it was armed, adds one to the eventfd's counter, which
    /// makes the fd readable. A counter at its maximum (EAGAIN) is readable already, so the error is ignored.
    pub fn signal(&self) {
        use std::os::fd::AsRawFd;
        use std::sync::atomic::Ordering;
        if self.state.swap(NOTIFIED, Ordering::AcqRel) != ARMED {
            return;
        }
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to an fd we own.
        unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// The loop is about to sleep: true if it may (a [`EventFd::signal`] from now on writes the eventfd),
    /// false if it was notified since it last woke and should run another turn first.
    pub fn arm(&self) -> bool {
        use std::sync::atomic::Ordering;
        match self
            .state
            .compare_exchange(RUNNING, ARMED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(_) => {
                self.state.store(RUNNING, Ordering::Release);
                false
            }
        }
    }

    /// The loop woke (by the eventfd or its tick): running again, the counter reset. True if the eventfd
    /// had been signalled.
    pub fn woke(&self) -> bool {
        use std::sync::atomic::Ordering;
        self.state.store(RUNNING, Ordering::Release);
        self.drain()
    }

    /// Resets the counter; true if it had been signalled.
    fn drain(&self) -> bool {
        use std::os::fd::AsRawFd;
        let mut count: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live u64 from an fd we own.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), (&mut count as *mut u64).cast(), 8) };
        n == 8
    }
}

impl std::os::fd::AsRawFd for EventFd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::wake::DspWaker;
    use std::sync::Arc;

    #[test]
    fn only_an_armed_loop_is_signalled_through_the_fd() {
        let fd = Arc::new(EventFd::new().unwrap());
        let waker = DspWaker::EventFd(fd.clone());
        waker.wake();
        assert!(!fd.woke(), "a running loop is only marked notified, no write");
        assert!(fd.arm(), "nothing since it woke: it may sleep");
        waker.wake();
        waker.wake();
        assert!(fd.woke(), "the armed loop was signalled");
        assert!(!fd.woke(), "once");
    }

    #[test]
    fn a_wake_during_a_turn_makes_the_loop_run_again_instead_of_sleeping() {
        let fd = EventFd::new().unwrap();
        assert!(fd.arm());
        fd.woke();
        fd.signal(); // a callback while the turn runs
        assert!(!fd.arm(), "notified: another turn first");
        assert!(fd.arm(), "then it may sleep");
    }
}
