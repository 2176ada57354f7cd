//! What a thread's sleep and wake-up cost in CPU on this machine, the unit the live path's CPU is made of
//! (`benches/runs/live-cpu-2026-12-03.md`): on a VM a woken vCPU leaves its idle state and the kernel
//! switches tasks, which can cost more than the audio work done per wake-up.
//!
//! ```sh
//! cargo run --release --example wakeup_cost [ROUNDS]
//! ```
//! Prints the process's CPU time (user + system, getrusage) per round of: a 2 ms sleep; a 2 ms sleep plus
//! waking a second thread that parks again (what the reactor does to the DSP thread).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut r) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(r.ru_utime) + t(r.ru_stime)
}

fn main() {
    let rounds: u32 = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 1000,
        Some(Ok(n)) if (1..=1_000_000).contains(&n) => n,
        Some(_) => {
            eprintln!("usage: wakeup_cost [ROUNDS], 1..=1000000");
            std::process::exit(2);
        }
    };
    let nap = Duration::from_millis(2);

    let start = cpu_seconds();
    for _ in 0..rounds {
        std::thread::sleep(nap);
    }
    let sleep_us = (cpu_seconds() - start) / f64::from(rounds) * 1e6;

    let stop = Arc::new(AtomicBool::new(false));
    let stop_peer = stop.clone();
    let peer = std::thread::spawn(move || {
        while !stop_peer.load(Ordering::Acquire) {
            std::thread::park();
        }
    });
    std::thread::sleep(Duration::from_millis(10));
    let start = cpu_seconds();
    for _ in 0..rounds {
        peer.thread().unpark();
        std::thread::sleep(nap);
    }
    let wake_us = (cpu_seconds() - start) / f64::from(rounds) * 1e6;
    stop.store(true, Ordering::Release);
    peer.thread().unpark();
    let _ = peer.join();

    println!("{rounds} rounds");
    println!("2 ms sleep:                               {sleep_us:6.1} us CPU per round");
    println!("2 ms sleep + wake a parked thread:        {wake_us:6.1} us CPU per round");
    println!(
        "so one wake-up of another thread costs    {:6.1} us CPU",
        wake_us - sleep_us
    );
}
