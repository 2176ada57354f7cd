//! Proves the callback bodies never allocate: a counting global allocator (per thread, so tests running in
//! parallel do not disturb each other) wraps the system one for the library's unit-test binary only.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use ringbuf::traits::{Producer, Split};
use ringbuf::HeapRb;

use super::ring::{fill_output, push_input, Epoch, StreamCounters};

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCS.with(Cell::get);
    f();
    ALLOCS.with(Cell::get) - before
}

#[test]
fn counter_sees_allocations() {
    assert!(allocations(|| drop(std::hint::black_box(vec![0u8; 64]))) >= 1);
}

#[test]
fn callback_bodies_do_not_allocate() {
    let (mut prod, mut cons) = HeapRb::<f32>::new(4096).split();
    let counters = StreamCounters::default();
    let epoch = Epoch::new();
    let in_i16 = vec![1000i16; 1024];
    let in_u16 = vec![40000u16; 1024];
    let in_f32 = vec![0.25f32; 1024];
    let mut out_f32 = vec![0.0f32; 1024];
    let mut out_i32 = vec![0i32; 1024];
    // A parked "DSP thread" for the capture callback to wake: the unpark path is part of the body.
    let sleeper = std::thread::spawn(|| std::thread::park_timeout(std::time::Duration::from_secs(5)));
    let _ = counters.wake.set(sleeper.thread().clone());
    let n = allocations(|| {
        push_input(&mut prod, &in_i16, &counters, &epoch);
        push_input(&mut prod, &in_u16, &counters, &epoch);
        push_input(&mut prod, &in_f32, &counters, &epoch);
        push_input(&mut prod, &in_f32, &counters, &epoch); // overrun path
        push_input(&mut prod, &in_f32, &counters, &epoch);
        fill_output(&mut cons, &mut out_f32, &counters, &epoch);
        fill_output(&mut cons, &mut out_i32, &counters, &epoch);
        counters
            .flush_requested
            .store(true, std::sync::atomic::Ordering::Release);
        fill_output(&mut cons, &mut out_f32, &counters, &epoch); // flush path (hard cut)
        push_input(&mut prod, &in_i16, &counters, &epoch);
        counters.flush_fade.store(480, std::sync::atomic::Ordering::Relaxed);
        counters.channels.store(2, std::sync::atomic::Ordering::Relaxed);
        counters
            .flush_requested
            .store(true, std::sync::atomic::Ordering::Release);
        fill_output(&mut cons, &mut out_i32, &counters, &epoch); // flush path with the barge-in fade
        fill_output(&mut cons, &mut out_f32, &counters, &epoch); // underrun path
        let _ = prod.try_push(0.0);
    });
    assert_eq!(n, 0, "callback bodies allocated {n} times");
    sleeper.join().unwrap();
    assert!(
        counters.overruns.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "the overrun path ran"
    );
}

/// `aec3` 0.4.0 allocates inside its render queue and block processor (measured: 6 per 20 ms of render,
/// ~85 per 20 ms capture frame; our wrapper adds none). That is on the DSP thread, never in a callback; this
/// pins the figure so a crate update that makes it worse is noticed.
#[test]
fn echo_canceller_allocations_stay_bounded() {
    use super::aec::EchoCanceller;
    use super::framing::FRAME_SAMPLES;
    let mut ec = EchoCanceller::new();
    let render: Vec<f32> = (0..FRAME_SAMPLES).map(|i| (i as f32 * 0.1).sin() * 0.3).collect();
    let mut frame = [0i16; FRAME_SAMPLES];
    // warm up: the first second fills AEC3's internal buffers
    for _ in 0..50 {
        ec.render(&render);
        ec.process(&mut frame);
    }
    let r = allocations(|| {
        for _ in 0..50 {
            ec.render(&render);
        }
    });
    let c = allocations(|| {
        for _ in 0..50 {
            ec.render(&[]);
            ec.process(&mut frame);
        }
    });
    eprintln!("aec3 allocations per second: render {r}, capture {c}");
    assert!(r <= 50 * 10, "{r} allocations per second of render");
    assert!(c <= 50 * 150, "{c} allocations per second of capture");
}

/// The DSP thread's own per-frame work (uplink without AEC, whose crate allocates; downlink steps; levels)
/// allocates nothing once built: every buffer, the barge-in fade's included, is sized in `new`.
#[test]
fn dsp_chains_do_not_allocate_per_frame() {
    use super::dsp::{DownlinkChain, UplinkChain};
    use super::jitter::JitterConfig;
    use super::levels::{peak_dbfs, peak_dbfs_i16};
    use super::source::StreamFormat;
    use super::vad::VadConfig;
    use std::time::{Duration, Instant};
    let fmt = StreamFormat {
        sample_rate: 48_000,
        channels: 2,
    };
    let mut up = UplinkChain::new(fmt, VadConfig::default(), false).unwrap();
    let mut down = DownlinkChain::new(fmt, JitterConfig::default()).unwrap();
    let input: Vec<f32> = (0..1024).map(|i| (i as f32 * 0.03).sin() * 0.2).collect();
    let reply = vec![3000i16; 480];
    let t0 = Instant::now();
    let mut frames = 0;
    let mut run = |k: u64, frames: &mut usize| {
        up.process(&input, |f| {
            *frames += 1;
            std::hint::black_box(peak_dbfs_i16(f.samples));
        })
        .unwrap();
        let now = t0 + Duration::from_millis(10 * k);
        if k % 2 == 0 {
            down.push(&reply, now);
        }
        std::hint::black_box(peak_dbfs(down.pull(now)));
        down.render_reference(None).unwrap();
        down.to_sink(|s| s.len()).unwrap();
        down.take_played(down.written(), |_| {});
    };
    for k in 0..20 {
        run(k, &mut frames); // warm-up: fills the resamplers' and the framer's steady state
    }
    let n = allocations(|| {
        for k in 20..120 {
            run(k, &mut frames);
        }
    });
    assert_eq!(n, 0, "the DSP chains allocated {n} times in 100 steps");
    assert!(frames > 40, "the uplink produced frames ({frames})");
}
