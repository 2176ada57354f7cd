//! Tests of device listing and picking (filtering, stable indexes, footers) on synthetic reports.
use super::*;

#[test]
fn choice_parses_default_index_and_name() {
    assert_eq!("".parse::<DeviceChoice>().ok(), Some(DeviceChoice::Default));
    assert_eq!("Default".parse::<DeviceChoice>().ok(), Some(DeviceChoice::Default));
    assert_eq!(" 2 ".parse::<DeviceChoice>().ok(), Some(DeviceChoice::Index(2)));
    assert_eq!(
        "USB Mic".parse::<DeviceChoice>().ok(),
        Some(DeviceChoice::Name("USB Mic".into()))
    );
}

#[test]
fn report_prints_devices_and_defaults() {
    let dev = |index, name: &str, is_default| DeviceInfo {
        index,
        id: "pulse".into(),
        name: name.into(),
        is_default,
        config: Ok(DeviceConfig {
            sample_rate: 48_000,
            channels: 2,
            format: "F32".into(),
        }),
    };
    let r = DeviceReport {
        hosts: vec![HostReport {
            name: "ALSA".into(),
            is_default: true,
            inputs: vec![dev(0, "vox_mic", true)],
            outputs: vec![],
        }],
    };
    let text = r.to_string();
    assert!(text.contains("host ALSA (default)"));
    assert!(text.contains("*  0  pulse  vox_mic  (48000 Hz, 2 ch, F32)"), "{text}");
    assert!(text.contains("(none)"));
}

/// An ALSA-like host: `null` opens, three plugins do not, `pulse` opens, `default` (the default) does
/// or does not.
fn alsa_like(default_opens: bool) -> DeviceReport {
    let dev = |index: usize, id: &str, opens: bool| DeviceInfo {
        index,
        id: id.into(),
        name: format!("{id} plugin"),
        is_default: id == "default",
        config: if opens {
            Ok(DeviceConfig {
                sample_rate: 48_000,
                channels: 2,
                format: "F32".into(),
            })
        } else {
            Err("The requested audio device is not available.".into())
        },
    };
    let list = vec![
        dev(0, "null", true),
        dev(1, "lavrate", false),
        dev(2, "jack", false),
        dev(3, "oss", false),
        dev(4, "pulse", true),
        dev(5, "default", default_opens),
    ];
    DeviceReport {
        hosts: vec![HostReport {
            name: "ALSA".into(),
            is_default: true,
            inputs: list.clone(),
            outputs: list,
        }],
    }
}

/// The device lines of a listing: (index, id) in printed order.
fn listed(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .filter(|l| l.starts_with("  "))
        .filter_map(|l| {
            let mut words = l.trim_start_matches(['*', ' ']).split_whitespace();
            let index = words.next()?.parse().ok()?;
            Some((index, words.next()?.to_string()))
        })
        .collect()
}

#[test]
fn default_listing_hides_what_did_not_open_and_keeps_indexes() {
    let r = alsa_like(true);
    let usable = r.listing(Listing::Usable).to_string();
    let ids = |v: Vec<(usize, String)>| v.into_iter().map(|(i, id)| format!("{i}:{id}")).collect::<Vec<_>>();
    // inputs then outputs; pulse keeps index 4 and default 5 although three devices before them are hidden
    assert_eq!(
        ids(listed(&usable)),
        ["0:null", "4:pulse", "5:default", "0:null", "4:pulse", "5:default"],
        "{usable}"
    );
    assert!(!usable.contains("unavailable"), "{usable}");
    assert_eq!(r.hidden(), 6);
    assert!(
        usable.contains("6 devices that did not open are hidden") && usable.contains("voxlive devices --all"),
        "{usable}"
    );
    // Display is the default listing
    assert_eq!(r.to_string(), usable);
}

#[test]
fn all_listing_shows_everything_and_the_same_lines() {
    let r = alsa_like(true);
    let usable = r.listing(Listing::Usable).to_string();
    let all = r.listing(Listing::All).to_string();
    let every: Vec<(usize, String)> = r.hosts[0]
        .inputs
        .iter()
        .chain(&r.hosts[0].outputs)
        .map(|d| (d.index, d.id.clone()))
        .collect();
    assert_eq!(listed(&all), every, "{all}");
    // a device line reads the same in both listings (same index, same text) but for the id column width
    let squeeze = |l: &str| l.split_whitespace().collect::<Vec<_>>().join(" ");
    let all_lines: Vec<String> = all.lines().map(squeeze).collect();
    assert!(
        all_lines.contains(&"2 jack jack plugin (unavailable)".to_string()),
        "{all}"
    );
    assert!(all.contains("6 devices did not open"), "{all}");
    assert!(!all.contains("are hidden"), "{all}");
    for line in usable.lines().filter(|l| l.contains(" Hz,")) {
        assert!(all_lines.contains(&squeeze(line)), "{line:?} is not in --all:\n{all}");
    }
}

#[test]
fn a_default_that_does_not_open_is_still_listed() {
    let r = alsa_like(false);
    let usable = r.listing(Listing::Usable).to_string();
    assert!(
        usable.contains("*  5  default  default plugin  (unavailable)"),
        "{usable}"
    );
    assert!(!usable.contains("jack"), "{usable}");
    assert_eq!(r.hidden(), 6, "the default is not counted as hidden");
}

#[test]
fn nothing_hidden_means_no_footer_and_an_all_hidden_section_says_so() {
    let mut r = alsa_like(true);
    for h in &mut r.hosts {
        h.inputs.retain(|d| d.is_usable());
        h.outputs.retain(|d| !d.is_usable());
    }
    let usable = r.listing(Listing::Usable).to_string();
    assert!(usable.contains("    (none that open; 3 hidden)"), "{usable}");
    assert!(usable.contains("3 devices that did not open are hidden"), "{usable}");
    r.hosts[0].outputs.clear();
    let usable = r.listing(Listing::Usable).to_string();
    assert!(usable.contains("    (none)"), "{usable}");
    assert!(!usable.contains("hidden") && !usable.contains("--all"), "{usable}");
}

#[test]
fn not_found_error_lists_available_devices() {
    let e = AudioError::DeviceNotFound {
        direction: Direction::Input,
        wanted: "usb".into(),
        available: "0: vox_mic".into(),
    };
    assert_eq!(
        e.to_string(),
        "input device \"usb\" not found; available input devices: 0: vox_mic"
    );
}
