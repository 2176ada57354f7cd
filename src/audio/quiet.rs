//! Keeps libasound and libjack off stderr while voxlive probes and opens ALSA devices.
//!
//! Listing ALSA devices opens every PCM of the ALSA configuration, plugins included (`jack`, `oss`, the rate
//! converters, `pulse`); each one whose backend is missing makes libasound print "ALSA lib ..." lines, and
//! the jack plugin loads libjack, which prints "Cannot connect to server socket" and friends. With no sound
//! server, opening `default` prints "ALSA lib pulse.c: ... Connection refused" before voxlive's own error.
//! cpal turns every one of those failures into an `Err` that voxlive reports (or lists as unavailable), so
//! on stderr the libraries' text is only noise. It is not thrown away: it goes to `tracing` at debug level
//! (`voxlive -vv`, targets `alsa` and `jack`).
//!
//! libasound: [`AlsaQuiet`] installs a *thread-local* error handler (`snd_lib_error_set_local`) for as long
//! as it lives and restores the previous one when dropped. Thread-local on purpose: it cannot swallow
//! messages of other threads (tests run in parallel, cpal's stream threads keep the default handler), and
//! it needs no variadic C function (the global `snd_lib_error_set_handler` takes one, which stable Rust
//! cannot define).
//!
//! libjack (JACK lines): its message handlers are process-wide and there is no JACK environment variable
//! that silences them (`JACK_NO_START_SERVER` and `JACK_NO_AUDIO_RESERVATION` were tried: the same five
//! lines). [`quiet_jack`] loads libjack itself, once, and points both handlers at `tracing`; the ALSA jack
//! plugin then links that same loaded copy. It stays that way for the life of the process, deliberately:
//! voxlive never talks to JACK except through that plugin, whose messages are only ever duplicates of the
//! error cpal returns, and restoring the default handlers would need to know that the plugin is done.
//!
//! Elsewhere than Linux both are no-ops.

#[cfg(target_os = "linux")]
pub(crate) use linux::{quiet_jack, AlsaQuiet};

#[cfg(not(target_os = "linux"))]
pub(crate) use other::{quiet_jack, AlsaQuiet};

#[cfg(target_os = "linux")]
mod linux {
    use std::cell::{Cell, RefCell};
    use std::ffi::{c_char, c_void, CStr};
    use std::marker::PhantomData;
    use std::rc::Rc;
    use std::sync::Once;

    /// What this thread had before the outermost [`AlsaQuiet`], and the buffer libasound writes into.
    struct Installed {
        output: Rc<RefCell<alsa::Output>>,
        previous: alsa_sys::snd_local_error_handler_t,
    }

    thread_local! {
        /// How many [`AlsaQuiet`]s are alive on this thread: only the outermost installs and restores.
        static DEPTH: Cell<usize> = const { Cell::new(0) };
        static INSTALLED: RefCell<Option<Installed>> = const { RefCell::new(None) };
    }

    /// While alive, libasound's messages on this thread go to `tracing` (debug, target `alsa`) instead of
    /// stderr. Nests: engine start holds one around `pick`, which holds its own. Not `Send`: it must be
    /// dropped on the thread whose handler it changed.
    pub(crate) struct AlsaQuiet {
        _this_thread: PhantomData<*const ()>,
    }

    impl AlsaQuiet {
        pub(crate) fn new() -> AlsaQuiet {
            let depth = DEPTH.get();
            if depth == 0 {
                install();
            }
            DEPTH.set(depth + 1);
            AlsaQuiet {
                _this_thread: PhantomData,
            }
        }
    }

    fn install() {
        // SAFETY: snd_lib_error_set_local only swaps a thread-local function pointer inside libasound and
        // returns the old one; None (the default: print to stderr) is a valid value. The previous handler is
        // put back when the outermost AlsaQuiet drops.
        let previous = unsafe { alsa_sys::snd_lib_error_set_local(None) };
        // installs the alsa crate's handler, which writes each message into this in-memory output
        match alsa::Output::local_error_handler() {
            Ok(output) => INSTALLED.set(Some(Installed { output, previous })),
            Err(e) => {
                // SAFETY: as above; puts back exactly what was there
                unsafe { alsa_sys::snd_lib_error_set_local(previous) };
                tracing::debug!(target: "alsa", "cannot capture libasound messages: {e}");
            }
        }
    }

    impl Drop for AlsaQuiet {
        fn drop(&mut self) {
            let depth = DEPTH.get().saturating_sub(1);
            DEPTH.set(depth);
            if depth > 0 {
                return;
            }
            let Some(installed) = INSTALLED.take() else {
                return;
            };
            // SAFETY: see install(); restores the handler this thread had before the outermost AlsaQuiet
            unsafe { alsa_sys::snd_lib_error_set_local(installed.previous) };
            let text = installed.output.borrow().to_string();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                tracing::debug!(target: "alsa", "libasound: {line}");
            }
        }
    }

    /// `void jack_set_error_function(void (*func)(const char *))`, the same for `jack_set_info_function`
    /// (jack/jack.h).
    type JackSetHandler = unsafe extern "C" fn(Option<unsafe extern "C" fn(*const c_char)>);

    unsafe extern "C" fn jack_message(message: *const c_char) {
        if message.is_null() {
            return;
        }
        // SAFETY: libjack passes a NUL-terminated message that is valid for the duration of the call
        let text = unsafe { CStr::from_ptr(message) }.to_string_lossy();
        tracing::debug!(target: "jack", "libjack: {text}");
    }

    /// Sends libjack's messages to `tracing` (debug, target `jack`) for the rest of the process; does
    /// nothing when libjack is not installed (then nothing can print them). Call before probing ALSA PCMs.
    pub(crate) fn quiet_jack() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            // SAFETY: a constant NUL-terminated soname; a null handle only means there is no libjack. The
            // handle is never closed, so the library (and the handlers set below) stays loaded for the
            // plugin, which finds it by soname.
            let handle = unsafe { libc::dlopen(c"libjack.so.0".as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL) };
            if handle.is_null() {
                return;
            }
            for name in [c"jack_set_error_function", c"jack_set_info_function"] {
                // SAFETY: a valid handle and a NUL-terminated symbol name
                let symbol: *mut c_void = unsafe { libc::dlsym(handle, name.as_ptr()) };
                if symbol.is_null() {
                    continue;
                }
                // SAFETY: both symbols have the signature of JackSetHandler in every libjack (jack1, jack2)
                let set = unsafe { std::mem::transmute::<*mut c_void, JackSetHandler>(symbol) };
                // SAFETY: jack_message is a valid handler for the life of the process
                unsafe { set(Some(jack_message)) };
            }
            tracing::debug!(target: "jack", "libjack messages go to the debug log");
        });
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// This thread's libasound local handler, read by swapping it out and back.
        fn current_handler() -> alsa_sys::snd_local_error_handler_t {
            // SAFETY: see install(); the handler is put back at once
            unsafe {
                let h = alsa_sys::snd_lib_error_set_local(None);
                alsa_sys::snd_lib_error_set_local(h);
                h
            }
        }

        #[test]
        fn nested_guards_install_once_and_restore_the_default() {
            assert!(current_handler().is_none(), "a fresh thread prints to stderr");
            {
                let _outer = AlsaQuiet::new();
                assert!(current_handler().is_some());
                {
                    let _inner = AlsaQuiet::new();
                    // an ALSA error on purpose: it lands in the buffer, not on stderr
                    assert!(alsa::PCM::new("voxlive_no_such_pcm", alsa::Direction::Playback, false).is_err());
                }
                assert!(current_handler().is_some(), "the inner guard must not restore early");
                let said = INSTALLED.with_borrow(|i| i.as_ref().map(|i| i.output.borrow().to_string()));
                assert!(
                    said.is_some_and(|t| t.contains("voxlive_no_such_pcm")),
                    "libasound's message was captured"
                );
            }
            assert!(current_handler().is_none(), "the outermost guard restores the default");
            assert_eq!(DEPTH.get(), 0);
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod other {
    /// No ALSA here: nothing to keep quiet.
    pub(crate) struct AlsaQuiet;

    impl AlsaQuiet {
        pub(crate) fn new() -> AlsaQuiet {
            AlsaQuiet
        }
    }

    /// No ALSA jack plugin here.
    pub(crate) fn quiet_jack() {}
}
