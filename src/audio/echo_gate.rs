//! The residual-echo gate after AEC3: while the speaker plays, an uplink frame passes only if the cleaned
//! signal is clearly louder than the echo that can still be left in it; otherwise it leaves as silence, so
//! neither our VAD (barge-in) nor the server's activity detection (turns, `interrupted`) hears the
//! assistant's own voice.
//!
//! Why AEC3 alone is not enough, measured on a real echo path (PulseAudio loopback from the speaker's
//! monitor into the microphone, 20-120 ms, -6/-12 dB, adaptive resampling): AEC3 removes 55-60 dB once it
//! has found the delay, but (1) on the first reply of a session it needs ~300 ms of echo before it locks at
//! delays beyond its initial filter window (~70 ms); that leak, 20 dB under the echo, made the server call
//! it the user barging in and cut the reply; (2) what it leaves after locking, a few LSB of speech-shaped
//! residue at the edges of words, is still "voice" to webrtc-vad, which is nearly level-blind: each blip
//! became a turn of its own, answered with its echo, and so on.
//!
//! The bound is learnt, not fixed: `residual_db` is how loud, relative to the speaker's recent level, the
//! cleaned echo has been. It starts at 0 dB (before any evidence, the echo may be as loud as the speaker),
//! jumps up at once to any louder echo-only frame (an AEC leak), and decays by [`DECAY_DB`] per frame while
//! the microphone hears echo that AEC removes well, never below [`FLOOR_DB`] (we never trust AEC to remove
//! more than 40 dB). A real voice over the reply is as loud as the reply itself, tens of dB above that
//! bound once AEC has worked for a few hundred ms, so barge-in still works. A frame must also have lost
//! less than [`REMOVED_DB`] in AEC3, i.e. hold something AEC3 could not predict from the speaker. A frame that passes keeps
//! the gate open for [`HANGOVER_FRAMES`], so quiet syllables inside an utterance are not cut. Nothing
//! playing (the speaker's level over the last [`HISTORY`] frames under [`SILENT_DB`]): every frame passes,
//! and the bound starts again from 0 dB for the next reply: the echo delay can change between replies
//! (measured after a barge-in flush), and AEC3 leaks again until it has found the new one. Re-arming costs
//! little: once the echo is audible and AEC3 removes it, the bound falls 50 dB/s, so a voice as loud as
//! the reply passes ~150 ms into it.
//!
//! Level alone cannot tell a voice from an echo AEC3 has stopped cancelling (its delay estimate lost after
//! the echo delay moved: measured up to ~500 ms after a barge-in flush, while AEC3 still reported ~90 ms).
//! So a frame also passes only if the raw microphone's loudness contour over the last [`CORR_WINDOW`]
//! frames does not follow the speaker's at any lag up to [`CORR_LAGS`] frames (normalised correlation under
//! [`ECHO_CORRELATION`]): over a real voice the contour is the voice's, over an echo it is the speaker's.
//!
//! Which lags: an echo comes back at one delay, but the best of 50 lags is a loose test. Two speech
//! contours 240 ms long match at *some* lag by chance: measured on the loopback during a barge-in, the
//! voice's contour correlated 0.86-0.97 with the reply at lags 20-48 frames while the echo was at 7-8, and
//! the gate held back most of a 2.5 s interruption (the test's second turn came out 1.1 s, or not at all).
//! So each lag keeps a score, a running mean of its correlation over the frames in which the microphone
//! hears something while the speaker plays and no voice holds the gate open. Once the best score reaches
//! [`LAG_LOCK`] (after [`LAG_LOCK_FRAMES`] frames), only the best-scoring lag and its neighbours
//! ([`LAG_SLACK`]) count as evidence of echo, until the reply ends. The scores keep moving (at [`LAG_SCORE_RATE`]), so an echo delay that moves within
//! a reply is followed in a few hundred ms; before the lock (the first ~60 ms of audible echo) every lag
//! counts, as before. The speaker's contour is taken per 20 ms of reference audio, not per capture frame
//! (see `speaker_env`), or the device's bursty requests for audio blur it.
//!
//! Allocation-free (fixed arrays): it runs per frame on the DSP thread.

use super::framing::{Frame, FRAME_SAMPLES};

/// Speaker level frames kept: 1 s, covering the echo delay plus a room's tail; measured on the loopback,
/// the delay from our reference to its echo moved from ~100 ms to 200-300 ms (once ~900 ms) after a
/// barge-in flush.
pub const HISTORY: usize = 50;
/// A speaker level under this (dB re 1 LSB, about -70 dBFS) is silence: no echo to expect.
pub const SILENT_DB: f32 = 20.0;
/// How far above the expected residual echo a frame must be to count as the user.
pub const MARGIN_DB: f32 = 6.0;
/// The expected residual before AEC has shown what it removes: as loud as the speaker.
pub const START_DB: f32 = 0.0;
/// The least residual ever expected: 40 dB under the speaker.
pub const FLOOR_DB: f32 = -40.0;
/// Decay of the expected residual per echo-only frame in which the echo is audible (50 dB/s).
pub const DECAY_DB: f32 = 1.0;
/// The raw microphone within this of the speaker level: echo is audible, AEC's work can be judged.
pub const AUDIBLE_DB: f32 = -50.0;
/// A frame of which AEC3 removed more than this is mostly echo, however loud what is left: AEC3 cannot
/// predict the user's voice, so over a real voice it removes little (~4 dB in double talk). This catches
/// its leaks at the edges of words, 20-25 dB under the speaker, that the learnt bound alone let through.
pub const REMOVED_DB: f32 = 12.0;
/// Microphone envelope frames the echo detector correlates (240 ms: longer windows clipped the first
/// ~0.7 s of a barge-in on the loopback, as the contour kept following the speaker).
pub const CORR_WINDOW: usize = 12;
/// Lags (frames) the echo detector tries: 0-1 s between the reference and its echo.
pub const CORR_LAGS: usize = 50;
/// An envelope correlation above this at some lag: the microphone is (still) mostly the speaker's echo.
pub const ECHO_CORRELATION: f32 = 0.85;
/// A lag whose correlation score reaches this is the echo's lag (see the module docs).
pub const LAG_LOCK: f32 = 0.8;
/// Frames of audible microphone signal during a reply before a lag can lock.
pub const LAG_LOCK_FRAMES: u32 = 3;
/// The weight of the newest frame in a lag's score once [`LAG_LOCK_FRAMES`] have been seen (before that,
/// the plain mean): about 200 ms of memory.
pub const LAG_SCORE_RATE: f32 = 0.1;
/// Lags either side of the locked one that still count as evidence of echo (the delay falls between
/// frames, and the loopback's adaptive resampler lets it wander).
pub const LAG_SLACK: usize = 2;
/// Frames a passing frame keeps the gate open (300 ms).
pub const HANGOVER_FRAMES: u32 = 15;

/// Energy level of samples at the i16 scale, in dB re 1 LSB (0 dB for digital silence).
pub(super) fn level_db(energy: f64, n: usize) -> f32 {
    (10.0 * (energy / n.max(1) as f64 + 1.0).log10()) as f32
}

fn frame_energy(frame: &Frame) -> f64 {
    frame.iter().map(|&s| f64::from(s).powi(2)).sum()
}

/// See the module docs. One per [`super::EchoCanceller`].
#[derive(Debug, Clone)]
pub struct EchoGate {
    /// Speaker level per capture frame (dB), a ring.
    history: [f32; HISTORY],
    pos: usize,
    /// Reference energy and samples since the last capture frame.
    pending_energy: f64,
    pending_n: usize,
    residual_db: f32,
    open_for: u32,
    gated: u64,
    /// The speaker's loudness contour: RMS per 20 ms of reference audio, a ring indexed by `ref_no`. Per
    /// block of reference *audio*, not per capture frame: the reference arrives as the device asks for it,
    /// in bursts (measured on PulseAudio: some capture frames saw none, the next two frames' worth), and a
    /// contour per capture frame followed that rhythm rather than the reply's.
    speaker_env: [f32; ENV_LEN],
    /// Reference blocks completed, and the energy and samples of the one being filled.
    ref_no: usize,
    ref_energy: f64,
    ref_n: usize,
    /// The raw microphone's contour: RMS per capture frame, a ring indexed by `frame_no`.
    mic_env: [f32; ENV_LEN],
    frame_no: usize,
    /// The echo correlation of the latest frame (for the per-frame trace log).
    last_correlation: f32,
    /// Per lag, the running mean of its correlation in this reply (see the module docs).
    lag_score: [f32; CORR_LAGS],
    /// Frames that fed `lag_score` in this reply.
    scored_frames: u32,
    /// A lag's score has reached [`LAG_LOCK`] in this reply.
    locked: bool,
}

const ENV_LEN: usize = CORR_WINDOW + CORR_LAGS;

impl Default for EchoGate {
    fn default() -> Self {
        EchoGate {
            history: [0.0; HISTORY],
            pos: 0,
            pending_energy: 0.0,
            pending_n: 0,
            residual_db: START_DB,
            open_for: 0,
            gated: 0,
            speaker_env: [0.0; ENV_LEN],
            ref_no: 0,
            ref_energy: 0.0,
            ref_n: 0,
            mic_env: [0.0; ENV_LEN],
            frame_no: 0,
            last_correlation: 0.0,
            lag_score: [0.0; CORR_LAGS],
            scored_frames: 0,
            locked: false,
        }
    }
}

impl EchoGate {
    /// Accounts for reference (speaker) samples at the i16 scale, as fed to AEC3.
    pub fn reference(&mut self, far_end_s16: &[f32]) {
        let mut rest = far_end_s16;
        while !rest.is_empty() {
            let take = (FRAME_SAMPLES - self.ref_n).min(rest.len());
            let energy = rest[..take].iter().map(|&s| f64::from(s).powi(2)).sum::<f64>();
            self.pending_energy += energy;
            self.pending_n += take;
            self.ref_energy += energy;
            self.ref_n += take;
            rest = &rest[take..];
            if self.ref_n == FRAME_SAMPLES {
                self.speaker_env[self.ref_no % ENV_LEN] = (self.ref_energy / FRAME_SAMPLES as f64).sqrt() as f32;
                self.ref_no += 1;
                (self.ref_energy, self.ref_n) = (0.0, 0);
            }
        }
    }

    /// The speaker's level over the reference fed since the last frame (dB re 1 LSB).
    pub fn pending_level_db(&self) -> f32 {
        level_db(self.pending_energy, self.pending_n)
    }

    /// Decides one frame: `raw` as captured, `clean` after AEC3 (silenced in place when it is echo).
    /// Returns true when the frame was silenced.
    pub fn apply(&mut self, raw: &Frame, clean: &mut Frame) -> bool {
        self.history[self.pos] = level_db(self.pending_energy, self.pending_n);
        self.pos = (self.pos + 1) % HISTORY;
        self.mic_env[self.frame_no % ENV_LEN] = (frame_energy(raw) / raw.len() as f64).sqrt() as f32;
        self.frame_no += 1;
        (self.pending_energy, self.pending_n) = (0.0, 0);
        let speaker_db = self.history.iter().copied().fold(0.0, f32::max);
        if speaker_db < SILENT_DB {
            // between replies: the next one starts from "the echo may be as loud as the speaker" again
            self.open_for = 0;
            self.residual_db = START_DB;
            self.last_correlation = 0.0;
            self.lag_score = [0.0; CORR_LAGS];
            self.scored_frames = 0;
            self.locked = false;
            return false;
        }
        let (raw_db, clean_db) = (
            level_db(frame_energy(raw), raw.len()),
            level_db(frame_energy(clean), clean.len()),
        );
        // evidence of echo: AEC3 removed most of the frame, or the microphone's contour follows the speaker's
        self.last_correlation = self.echo_correlation();
        let echo = clean_db <= raw_db - REMOVED_DB || self.last_correlation >= ECHO_CORRELATION;
        if !echo && clean_db > speaker_db + self.residual_db + MARGIN_DB {
            self.open_for = HANGOVER_FRAMES;
            return false;
        }
        if self.open_for > 0 {
            self.open_for -= 1;
            return false;
        }
        if echo {
            // learn how much of the echo AEC leaves, once it is audible at all
            if raw_db - speaker_db > AUDIBLE_DB {
                let residual = clean_db - speaker_db;
                self.residual_db = (self.residual_db - DECAY_DB).max(residual).clamp(FLOOR_DB, START_DB);
            }
        } else {
            // no sign of echo, only not loud enough yet: it may be the user talking from the reply's start,
            // with no echo at all (a headset); the bound falls so such a voice passes within ~150 ms
            self.residual_db = (self.residual_db - DECAY_DB).max(FLOOR_DB);
        }
        clean.fill(0);
        self.gated += 1;
        true
    }

    /// The normalised correlation of the microphone's contour over the last [`CORR_WINDOW`] frames with the
    /// speaker's: the best at the echo's lag (and its neighbours) once a lag has locked, the best at any lag
    /// 0..[`CORR_LAGS`] before. Feeds the lag scores.
    fn echo_correlation(&mut self) -> f32 {
        let (newest_mic, newest_ref) = (self.frame_no.wrapping_sub(1), self.ref_no.wrapping_sub(1));
        let at = |env: &[f32; ENV_LEN], newest: usize, back: usize| env[newest.wrapping_sub(back) % ENV_LEN];
        let mut mic = [0.0f32; CORR_WINDOW];
        for (i, m) in mic.iter_mut().enumerate() {
            *m = at(&self.mic_env, newest_mic, i);
        }
        let mean = mic.iter().sum::<f32>() / CORR_WINDOW as f32;
        mic.iter_mut().for_each(|m| *m -= mean);
        let mic_var: f32 = mic.iter().map(|m| m * m).sum();
        if self.frame_no < ENV_LEN || self.ref_no < ENV_LEN || mic_var <= f32::EPSILON {
            return 0.0;
        }
        let mut corr = [0.0f32; CORR_LAGS];
        for (lag, c) in corr.iter_mut().enumerate() {
            let mut spk = [0.0f32; CORR_WINDOW];
            for (i, s) in spk.iter_mut().enumerate() {
                *s = at(&self.speaker_env, newest_ref, i + lag);
            }
            let mean = spk.iter().sum::<f32>() / CORR_WINDOW as f32;
            let (mut num, mut var) = (0.0f32, 0.0f32);
            for (s, m) in spk.iter().zip(&mic) {
                num += (s - mean) * m;
                var += (s - mean) * (s - mean);
            }
            if var > f32::EPSILON {
                *c = num / (var * mic_var).sqrt();
            }
        }
        let locked = self.locked_lag();
        if self.open_for == 0 {
            // not while a voice holds the gate open: its contour, not the echo's, would steer the scores
            self.score_lags(&corr);
        }
        let best = |lags: &[f32]| lags.iter().copied().fold(0.0f32, f32::max);
        match locked {
            Some(lag) => best(&corr[lag.saturating_sub(LAG_SLACK)..(lag + LAG_SLACK + 1).min(CORR_LAGS)]),
            None => best(&corr),
        }
    }

    /// Adds one frame's correlations to the lag scores.
    fn score_lags(&mut self, corr: &[f32; CORR_LAGS]) {
        self.scored_frames = self.scored_frames.saturating_add(1);
        let rate = (1.0 / self.scored_frames as f32).max(LAG_SCORE_RATE);
        for (score, &c) in self.lag_score.iter_mut().zip(corr) {
            *score += rate * (c - *score);
        }
        self.locked |= self.scored_frames >= LAG_LOCK_FRAMES && self.best_lag().1 >= LAG_LOCK;
    }

    /// The lag (frames) the echo comes back at, once one has shown itself (see the module docs): the best
    /// scoring lag, from the first frame its score reached [`LAG_LOCK`] to the end of the reply. It does not
    /// fall back to "any lag" when double talk lowers every score (measured: it did, 300 ms into a barge-in,
    /// and a lag far from the echo's matched the voice at 0.93 and silenced the rest of it).
    pub fn locked_lag(&self) -> Option<usize> {
        self.locked.then(|| self.best_lag().0)
    }

    fn best_lag(&self) -> (usize, f32) {
        self.lag_score
            .iter()
            .copied()
            .enumerate()
            .fold(
                (0, f32::NEG_INFINITY),
                |best, (lag, score)| if score > best.1 { (lag, score) } else { best },
            )
    }

    /// Frames silenced so far (the canceller counts those it really silenced: some are passed through).
    #[cfg(test)]
    pub fn gated(&self) -> u64 {
        self.gated
    }

    /// The echo correlation the latest frame was judged by (0 when nothing played).
    pub fn last_correlation(&self) -> f32 {
        self.last_correlation
    }

    /// The residual echo currently expected, relative to the speaker level (dB).
    pub fn residual_db(&self) -> f32 {
        self.residual_db
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(amp: i16) -> Frame {
        let mut f = [0; FRAME_SAMPLES];
        for (i, s) in f.iter_mut().enumerate() {
            *s = if i % 2 == 0 { amp } else { -amp };
        }
        f
    }

    /// One 20 ms step: speaker at `speaker` (i16 scale), microphone `raw`, AEC output `clean`.
    fn step(g: &mut EchoGate, speaker: f32, raw: i16, clean: i16) -> bool {
        g.reference(&[speaker; FRAME_SAMPLES]);
        let mut c = frame(clean);
        let silenced = g.apply(&frame(raw), &mut c);
        if silenced {
            assert!(c.iter().all(|&s| s == 0), "a silenced frame is silence");
        } else {
            assert_eq!(c, frame(clean), "a passing frame is untouched");
        }
        silenced
    }

    #[test]
    fn nothing_playing_passes_everything() {
        let mut g = EchoGate::default();
        assert!((0..50).all(|_| !step(&mut g, 0.0, 3, 3)));
        assert_eq!(g.gated(), 0);
    }

    #[test]
    fn leak_before_aec_locks_is_silenced() {
        let mut g = EchoGate::default();
        // AEC has not found the delay: the echo comes through 20 dB under the speaker
        assert!((0..15).all(|_| step(&mut g, 3000.0, 1500, 300)));
    }

    #[test]
    fn tiny_residue_after_aec_locks_is_silenced() {
        let mut g = EchoGate::default();
        for _ in 0..50 {
            step(&mut g, 3000.0, 1500, 1);
        }
        assert_eq!(g.residual_db(), FLOOR_DB);
        assert!((0..20).all(|_| step(&mut g, 3000.0, 1500, 4)));
    }

    #[test]
    fn a_leak_after_aec_locked_is_silenced() {
        let mut g = EchoGate::default();
        for _ in 0..50 {
            step(&mut g, 3000.0, 1500, 1);
        }
        // the end of a word: AEC3 removed only 20 dB, what is left is 26 dB under the speaker
        assert!(step(&mut g, 3000.0, 1500, 150));
    }

    #[test]
    fn an_echo_aec_stopped_cancelling_is_silenced_by_its_contour() {
        let mut g = EchoGate::default();
        // a syllable-like speaker contour; its echo comes back 15 frames (300 ms) later at half level
        let speaker = |i: usize| if (i / 4) % 2 == 0 { 3000.0 } else { 600.0 };
        let echo = |i: usize| if i >= 15 { speaker(i - 15) as i16 / 2 } else { 0 };
        for i in 0..100 {
            step(&mut g, speaker(i), echo(i), 1);
        }
        assert_eq!(g.residual_db(), FLOOR_DB);
        // the echo delay moved and AEC3 lost it: the echo comes through whole, but it follows the speaker
        let leaked = (100..130)
            .filter(|&i| step(&mut g, speaker(i), echo(i), echo(i)))
            .count();
        assert_eq!(leaked, 30, "every frame of the uncancelled echo is silenced");
    }

    #[test]
    fn a_voice_over_the_reply_passes_once_aec_has_worked() {
        let mut g = EchoGate::default();
        // 300 ms of reply whose echo AEC removes well
        for _ in 0..15 {
            step(&mut g, 3000.0, 1500, 2);
        }
        // the user, as loud as the reply: AEC keeps the voice, the raw mic holds voice plus echo
        assert!(!step(&mut g, 3000.0, 3500, 3000));
        // a quieter syllable inside the utterance still passes (hangover)
        assert!(!step(&mut g, 3000.0, 1500, 100));
    }

    #[test]
    fn each_reply_starts_from_a_loud_expected_residual() {
        let mut g = EchoGate::default();
        for _ in 0..50 {
            step(&mut g, 3000.0, 1500, 1);
        }
        assert_eq!(g.residual_db(), FLOOR_DB);
        for _ in 0..HISTORY {
            step(&mut g, 0.0, 0, 0);
        }
        assert_eq!(g.residual_db(), START_DB);
        // an unreduced frame 7 dB under the speaker, with no contour to judge: held back while the bound falls
        assert!((0..10).all(|_| step(&mut g, 3000.0, 1500, 1400)));
    }

    #[test]
    fn a_voice_with_no_echo_at_all_passes_soon_after_the_reply_starts() {
        let mut g = EchoGate::default();
        // a headset: the user talks as loud as the reply from its first frame, nothing comes back
        let passed: Vec<bool> = (0..20).map(|_| !step(&mut g, 3000.0, 3000, 2900)).collect();
        assert!(passed[10..].iter().all(|&p| p), "{passed:?}");
    }

    #[test]
    fn the_gate_releases_once_the_echo_tail_is_over() {
        let mut g = EchoGate::default();
        for _ in 0..20 {
            step(&mut g, 3000.0, 1500, 300);
        }
        // the speaker went quiet; within the history the echo tail is still expected, then everything passes
        let gated: Vec<bool> = (0..HISTORY + 1).map(|_| step(&mut g, 0.0, 0, 50)).collect();
        assert!(gated[0]);
        assert!(!gated[HISTORY]);
    }

    /// A reply's loudness per frame: a random syllable level every 3 frames (deterministic), so that its
    /// contour matches itself at one lag only.
    fn syllables(i: usize) -> f32 {
        let mut x = (i / 3) as u64 ^ 0x9e37_79b9_7f4a_7c15;
        x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x ^= x >> 31;
        300.0 + (x % 2700) as f32
    }

    /// One capture frame with the reference fed in `blocks` 20 ms blocks of the given levels.
    fn frame_after(g: &mut EchoGate, blocks: &[f32], raw: i16, clean: i16) -> bool {
        for &level in blocks {
            g.reference(&[level; FRAME_SAMPLES]);
        }
        let mut c = frame(clean);
        g.apply(&frame(raw), &mut c)
    }

    /// The echo of [`syllables`]: 6 frames late at half level.
    fn echo6(i: usize) -> f32 {
        if i >= 6 {
            syllables(i - 6) / 2.0
        } else {
            0.0
        }
    }

    /// A gate after 2 s of a reply whose echo AEC removes well.
    fn locked_on_echo6() -> EchoGate {
        let mut g = EchoGate::default();
        for i in 0..100 {
            frame_after(&mut g, &[syllables(i)], echo6(i) as i16, 1);
        }
        g
    }

    /// Frames `frames` of a user whose contour happens to follow the reply's of 600 ms ago (measured on the
    /// loopback: a voice correlated 0.86-0.97 with the reply at lags 20-48 while the echo was at 7-8), over
    /// the echo; AEC keeps the voice. Whether each passed.
    fn voice_matching_lag30(g: &mut EchoGate, frames: std::ops::Range<usize>) -> Vec<bool> {
        let voice = |i: usize| syllables(i - 30) * 1.5;
        frames
            .map(|i| !frame_after(g, &[syllables(i)], (voice(i) + echo6(i)) as i16, voice(i) as i16))
            .collect()
    }

    #[test]
    fn a_voice_matching_the_reply_at_another_lag_than_the_echo_is_not_echo() {
        let mut g = locked_on_echo6();
        assert_eq!(g.locked_lag(), Some(6), "the echo's lag");
        let passed = voice_matching_lag30(&mut g, 100..130);
        assert!(passed.iter().all(|&p| p), "{passed:?}");
    }

    #[test]
    fn a_reference_fed_in_bursts_still_shows_the_echo_contour() {
        let mut g = EchoGate::default();
        // the device asks for 40 ms every other capture frame
        let blocks = |i: usize| {
            if i % 2 == 0 {
                vec![syllables(i), syllables(i + 1)]
            } else {
                Vec::new()
            }
        };
        for i in 0..100 {
            frame_after(&mut g, &blocks(i), echo6(i) as i16, 1);
        }
        assert!(
            g.locked_lag().is_some_and(|l| (4..=6).contains(&l)),
            "{:?}",
            g.locked_lag()
        );
        // AEC3 lost the echo: it comes through whole, but it follows the speaker
        let leaked = (100..130)
            .filter(|&i| !frame_after(&mut g, &blocks(i), echo6(i) as i16, echo6(i) as i16))
            .count();
        assert_eq!(leaked, 0, "every frame of the uncancelled echo is silenced");
    }

    #[test]
    fn the_lock_holds_when_double_talk_lowers_every_score() {
        let mut g = locked_on_echo6();
        // 600 ms of something quiet that follows nothing the speaker did (held back): every score falls
        for i in 100..130 {
            let other = syllables(i * 7 + 1000) / 10.0;
            frame_after(&mut g, &[syllables(i)], other as i16, 1);
        }
        assert!(g.best_lag().1 < LAG_LOCK, "score {}", g.best_lag().1);
        assert!(g.locked_lag().is_some(), "the lock is kept for the rest of the reply");
        // then the user, matching the reply at a far lag: the loose any-lag test would call it echo
        let passed = voice_matching_lag30(&mut g, 130..160);
        assert!(passed.iter().all(|&p| p), "{passed:?}");
    }
}
