//! Scheduling priority for the threads on the audio path (the DSP thread, and the live session's runtime
//! thread, whose children such as cpal's PulseAudio reactor inherit it).
//!
//! Why: on a machine whose cores are all busy (a build beside the conversation), a woken DSP or session
//! thread waits behind the other work for its turn, and capture -> socket p99 went from 0.3-0.5 ms on an
//! idle machine to 1.3-2.8 ms while a cargo build ran (`benches/runs/live-cpu-2026-12-02.md`). PulseAudio
//! does the same for its own threads: nice -11 (`pa_raise_priority`), which on Linux applies to one thread.
//! A nice level, not a real-time class: a stuck real-time thread can freeze a desktop, a nice one cannot.
//! Without the right to lower a nice value (an unprivileged user with RLIMIT_NICE at 0) nothing changes
//! and the caller logs it once; voxlive works the same, only less steadily under load.

/// The nice value the audio threads ask for (PulseAudio's).
pub const AUDIO_NICE: i32 = -11;

/// Gives the calling thread nice [`AUDIO_NICE`] if it is not already at that or higher priority; returns
/// the nice value the thread has afterwards, or why it could not be changed.
#[cfg(target_os = "linux")]
pub fn raise_this_thread() -> std::io::Result<i32> {
    // SAFETY: gettid has no preconditions and returns this thread's id.
    let tid = unsafe { libc::gettid() } as libc::id_t;
    let now = thread_nice(tid)?;
    if now <= AUDIO_NICE {
        return Ok(now);
    }
    // SAFETY: setpriority on this thread's own id changes only its nice value.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, AUDIO_NICE) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    thread_nice(tid)
}

/// Off Linux the thread keeps its priority (macOS and Windows audio threads are the host's own).
#[cfg(not(target_os = "linux"))]
pub fn raise_this_thread() -> std::io::Result<i32> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// The nice value of thread `tid` (getpriority returns -1 both for nice -1 and for an error: errno tells).
#[cfg(target_os = "linux")]
fn thread_nice(tid: libc::id_t) -> std::io::Result<i32> {
    // SAFETY: errno is this thread's; clearing it first is how getpriority's errors are told apart.
    unsafe { *libc::__errno_location() = 0 };
    // SAFETY: getpriority only reads the scheduling attributes of `tid`.
    let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, tid) };
    let err = std::io::Error::last_os_error();
    if nice == -1 && err.raw_os_error() != Some(0) {
        return Err(err);
    }
    Ok(nice)
}

/// Raises the calling thread's priority, saying at debug level what came of it (an unprivileged user is
/// the common case and not an error).
pub fn raise_this_thread_logged(role: &str) {
    match raise_this_thread() {
        Ok(nice) => tracing::debug!(role, nice, "audio thread priority"),
        Err(e) => tracing::debug!(role, error = %e, "audio thread keeps its priority"),
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_raised_thread_has_the_audio_nice_value_or_an_error_and_its_old_one() {
        std::thread::spawn(|| {
            // SAFETY: as above.
            let tid = unsafe { libc::gettid() } as libc::id_t;
            let before = thread_nice(tid).expect("getpriority on this thread");
            match raise_this_thread() {
                Ok(nice) => {
                    assert_eq!(nice, before.min(AUDIO_NICE), "reported nice value");
                    assert_eq!(thread_nice(tid).unwrap(), nice, "the thread's nice value");
                }
                Err(e) => {
                    assert!(
                        matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EPERM)),
                        "unexpected error: {e}"
                    );
                    assert_eq!(thread_nice(tid).unwrap(), before, "a refused change changed nothing");
                }
            }
        })
        .join()
        .unwrap();
    }

    #[test]
    fn raising_one_thread_leaves_the_thread_that_spawned_it_alone() {
        // SAFETY: as above.
        let me = unsafe { libc::gettid() } as libc::id_t;
        let before = thread_nice(me).unwrap();
        std::thread::spawn(|| {
            let _ = raise_this_thread();
        })
        .join()
        .unwrap();
        assert_eq!(thread_nice(me).unwrap(), before);
    }
}
