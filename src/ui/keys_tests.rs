use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};

use super::*;

fn ev(code: KeyCode, kind: KeyEventKind) -> KeyEvent {
    KeyEvent {
        code,
        modifiers: KeyModifiers::NONE,
        kind,
        state: KeyEventState::NONE,
    }
}

fn press(c: char) -> KeyEvent {
    ev(KeyCode::Char(c), KeyEventKind::Press)
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent {
        modifiers: KeyModifiers::CONTROL,
        ..press(c)
    }
}

fn space() -> KeySpec {
    KeySpec::default()
}

fn ms(t0: Instant, n: u64) -> Instant {
    t0 + Duration::from_millis(n)
}

#[test]
fn key_names_parse_and_print_back() {
    for (name, shown) in [
        ("space", "space"),
        ("SPACE", "space"),
        ("f5", "f5"),
        ("F12", "f12"),
        ("ctrl+t", "ctrl+t"),
        ("Ctrl+Alt+x", "ctrl+alt+x"),
        ("a", "a"),
        ("`", "`"),
        ("tab", "tab"),
        ("pagedown", "pagedown"),
        ("PgUp", "pageup"),
    ] {
        let spec: KeySpec = name.parse().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(spec.to_string(), shown, "{name}");
    }
    assert_eq!("f5".parse::<KeySpec>().unwrap().code, KeyCode::F(5));
    let t: KeySpec = "ctrl+t".parse().unwrap();
    assert_eq!((t.code, t.modifiers), (KeyCode::Char('t'), KeyModifiers::CONTROL));
}

#[test]
fn unknown_and_reserved_key_names_are_clear_errors() {
    for name in [
        "spcae",
        "f0",
        "f25",
        "ctrl+",
        "",
        "enter",
        "esc",
        "backspace",
        "ctrl+c",
        "ctrl+d",
    ] {
        let err = name.parse::<KeySpec>().expect_err(name);
        let text = err.to_string();
        assert!(text.contains("unknown push-to-talk key"), "{name}: {text}");
        assert!(text.contains(&format!("{name:?}")), "{name}: {text}");
    }
}

#[test]
fn hold_mode_press_is_key_down_repeat_is_ignored_release_is_key_up() {
    let t0 = Instant::now();
    let mut m = KeyMapper::new(Some((space(), KeyMode::HoldRelease)));
    assert_eq!(m.on_key(&press(' '), t0), Some(UserInput::KeyDown { at: t0 }));
    for i in 1..20 {
        let repeat = ev(KeyCode::Char(' '), KeyEventKind::Repeat);
        assert_eq!(m.on_key(&repeat, ms(t0, 500 + i * 30)), None);
    }
    let up = ms(t0, 2000);
    let release = ev(KeyCode::Char(' '), KeyEventKind::Release);
    assert_eq!(m.on_key(&release, up), Some(UserInput::KeyUp { at: up }));
    assert_eq!(
        m.on_key(&release, ms(t0, 2001)),
        None,
        "a second release is no second turn end"
    );
    assert_eq!(m.line(), "", "the key never typed");
    let again = ms(t0, 2100);
    assert_eq!(m.on_key(&press(' '), again), Some(UserInput::KeyDown { at: again }));
}

#[test]
fn hold_mode_release_of_other_keys_types_nothing() {
    let t0 = Instant::now();
    let mut m = KeyMapper::new(Some((space(), KeyMode::HoldRelease)));
    m.on_key(&press('h'), t0);
    m.on_key(&ev(KeyCode::Char('h'), KeyEventKind::Release), t0);
    m.on_key(&ev(KeyCode::Char('i'), KeyEventKind::Press), t0);
    m.on_key(&ev(KeyCode::Char('i'), KeyEventKind::Repeat), t0);
    assert_eq!(m.line(), "hii");
}

#[test]
fn hold_mode_release_ends_the_turn_even_if_typing_started_meanwhile() {
    let t0 = Instant::now();
    let mut m = KeyMapper::new(Some((space(), KeyMode::HoldRelease)));
    assert!(matches!(m.on_key(&press(' '), t0), Some(UserInput::KeyDown { .. })));
    assert_eq!(m.on_key(&press('x'), ms(t0, 10)), None);
    let release = ev(KeyCode::Char(' '), KeyEventKind::Release);
    assert!(matches!(m.on_key(&release, ms(t0, 20)), Some(UserInput::KeyUp { .. })));
    assert_eq!(m.line(), "x");
}

#[test]
fn tap_mode_first_tap_is_key_down_second_tap_is_key_up() {
    let t0 = Instant::now();
    let mut m = KeyMapper::new(Some((space(), KeyMode::TapToggle)));
    assert_eq!(m.on_key(&press(' '), t0), Some(UserInput::KeyDown { at: t0 }));
    let t1 = ms(t0, 1500);
    assert_eq!(m.on_key(&press(' '), t1), Some(UserInput::KeyUp { at: t1 }));
    let t2 = ms(t0, 3000);
    assert_eq!(m.on_key(&press(' '), t2), Some(UserInput::KeyDown { at: t2 }));
    assert_eq!(m.line(), "");
}

#[test]
fn tap_mode_a_held_key_toggles_once_and_never_infers_release() {
    let t0 = Instant::now();
    let mut m = KeyMapper::new(Some((space(), KeyMode::TapToggle)));
    assert!(matches!(m.on_key(&press(' '), t0), Some(UserInput::KeyDown { .. })));
    // a legacy terminal: the held key auto-repeats as presses after its initial delay
    for i in 0..100 {
        assert_eq!(m.on_key(&press(' '), ms(t0, 600 + i * 33)), None, "repeat {i}");
    }
    // the user lets go (nothing is reported) and, much later, taps again: only now does the turn end
    let later = ms(t0, 10_000);
    assert_eq!(m.on_key(&press(' '), later), Some(UserInput::KeyUp { at: later }));
}

#[test]
fn ptt_key_types_into_a_non_empty_line() {
    for mode in [KeyMode::HoldRelease, KeyMode::TapToggle] {
        let t0 = Instant::now();
        let mut m = KeyMapper::new(Some((space(), mode)));
        assert_eq!(m.on_key(&press('h'), t0), None);
        assert_eq!(m.on_key(&press('i'), t0), None);
        assert_eq!(m.on_key(&press(' '), ms(t0, 1000)), None, "{mode:?}");
        assert_eq!(m.on_key(&press('x'), ms(t0, 1000)), None);
        assert_eq!(m.line(), "hi x", "{mode:?}");
        let at = ms(t0, 5000);
        let enter = ev(KeyCode::Enter, KeyEventKind::Press);
        let sent = UserInput::Line {
            text: "hi x".into(),
            at,
        };
        assert_eq!(m.on_key(&enter, at), Some(sent));
        assert_eq!(m.line(), "");
        assert!(matches!(
            m.on_key(&press(' '), ms(t0, 9000)),
            Some(UserInput::KeyDown { .. })
        ));
    }
}

#[test]
fn non_printable_ptt_key_still_talks_while_typing() {
    let t0 = Instant::now();
    let mut m = KeyMapper::new(Some(("f5".parse().unwrap(), KeyMode::HoldRelease)));
    m.on_key(&press(' '), t0);
    m.on_key(&press('a'), t0);
    assert_eq!(m.line(), " a", "space types when it is not the push-to-talk key");
    let f5 = ev(KeyCode::F(5), KeyEventKind::Press);
    assert!(matches!(m.on_key(&f5, t0), Some(UserInput::KeyDown { .. })));
    let ctrl_t: KeySpec = "ctrl+t".parse().unwrap();
    let mut m = KeyMapper::new(Some((ctrl_t, KeyMode::TapToggle)));
    assert_eq!(m.on_key(&press('t'), t0), None, "plain t types");
    assert!(matches!(
        m.on_key(&ctrl('t'), ms(t0, 1)),
        Some(UserInput::KeyDown { .. })
    ));
    assert_eq!(m.line(), "t");
}

#[test]
fn hands_free_everything_types() {
    let t0 = Instant::now();
    let mut m = KeyMapper::new(None);
    for c in " hello world".chars() {
        assert_eq!(m.on_key(&press(c), t0), None);
    }
    let shift_a = KeyEvent {
        modifiers: KeyModifiers::SHIFT,
        ..press('a')
    };
    m.on_key(&shift_a, t0);
    assert_eq!(m.line(), " hello worldA");
    let enter = ev(KeyCode::Enter, KeyEventKind::Press);
    assert!(matches!(m.on_key(&enter, t0), Some(UserInput::Line { text, .. }) if text == " hello worldA"));
}

#[test]
fn backspace_esc_enter_ctrl_c_ctrl_d() {
    let t0 = Instant::now();
    let mut m = KeyMapper::new(Some((space(), KeyMode::TapToggle)));
    let key = |code| ev(code, KeyEventKind::Press);
    assert_eq!(m.on_key(&key(KeyCode::Enter), t0), None, "an empty line is not sent");
    m.on_key(&press('a'), t0);
    m.on_key(&press('b'), t0);
    m.on_key(&key(KeyCode::Backspace), t0);
    assert_eq!(m.line(), "a");
    assert_eq!(m.on_key(&key(KeyCode::Esc), t0), None, "Esc clears a non-empty line");
    assert_eq!(m.line(), "");
    assert_eq!(
        m.on_key(&key(KeyCode::Esc), t0),
        Some(UserInput::Quit),
        "Esc on an empty line quits"
    );
    m.on_key(&press('z'), t0);
    assert_eq!(m.on_key(&ctrl('c'), t0), Some(UserInput::Quit));
    assert_eq!(m.on_key(&ctrl('d'), t0), Some(UserInput::Quit));
    m.on_key(&ctrl('u'), t0);
    assert_eq!(m.line(), "", "ctrl+u clears the line");
}

#[test]
fn key_mode_labels_name_the_key() {
    assert_eq!(
        KeyMode::HoldRelease.label(&space()),
        "hold space to talk (key release reported)"
    );
    assert_eq!(
        KeyMode::TapToggle.label(&"f5".parse().unwrap()),
        "tap f5 to start and stop talking"
    );
}
