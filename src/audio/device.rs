//! Audio hosts and devices: the only file that names cpal hosts and devices. Lists them for
//! `voxlive devices` and picks one by name (case-insensitive substring) or index, with errors that list what
//! is available, so a wrong `--input` is fixed without reading docs. Never panics.
//!
//! The host: `VOXLIVE_AUDIO_HOST` (`alsa`, `pulseaudio`/`pulse`, or `auto`), else the native PulseAudio host
//! when a server is reachable ($PULSE_SERVER or $XDG_RUNTIME_DIR/pulse/native), else ALSA. The native host
//! costs a fraction of the CPU of ALSA's pulse plugin (whose capture thread spins on xruns), but its default
//! buffers are huge (2 s playback requests): streams on it get [`PULSE_PERIOD`] unless `--buffer-frames`
//! says otherwise.
//!
//! `voxlive devices` shows the devices that opened; ALSA lists every plugin of its configuration too (`jack`,
//! `oss`, rate converters) and those whose backend is missing are hidden unless `--all` ([`Listing`]). A
//! device keeps its index either way: the index is its place in the host's full enumeration, the one
//! `--input-device N` / `--output-device N` ([`DeviceChoice::Index`]) resolves in [`pick`]. libasound and
//! libjack stay off stderr while devices are probed and opened ([`super::quiet`]).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait};

use super::error::Direction;
use super::quiet::{quiet_jack, AlsaQuiet};
use super::AudioError;

/// Which device to open: the host's default, the n-th in `voxlive devices`, or by name: the device whose id
/// equals the text, else the first whose id or description contains it (case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    #[default]
    Default,
    Index(usize),
    Name(String),
}

impl FromStr for DeviceChoice {
    type Err = std::convert::Infallible;
    /// "" or "default" -> Default, a number -> Index, anything else -> Name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Ok(if s.is_empty() || s.eq_ignore_ascii_case("default") {
            DeviceChoice::Default
        } else if let Ok(i) = s.parse() {
            DeviceChoice::Index(i)
        } else {
            DeviceChoice::Name(s.to_string())
        })
    }
}

/// A device's default stream configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    pub sample_rate: u32,
    pub channels: u16,
    pub format: String,
}

/// One device as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub index: usize,
    /// The backend's id (ALSA: the PCM name such as `pulse` or `default`), what `--input` is best matched on.
    pub id: String,
    pub name: String,
    pub is_default: bool,
    /// `Err` text when the device would not tell (it may still open).
    pub config: Result<DeviceConfig, String>,
}

impl DeviceInfo {
    /// Whether the device told its default configuration, i.e. opened. ALSA plugins whose backend is
    /// missing (`jack` without a JACK server, `oss` without /dev/dsp, rate converters) do not.
    pub fn is_usable(&self) -> bool {
        self.config.is_ok()
    }

    /// Whether `voxlive devices` prints it: usable devices, and the default even when it does not open (the
    /// user has to see that the device voxlive would pick is broken).
    fn is_listed(&self, listing: Listing) -> bool {
        listing == Listing::All || self.is_usable() || self.is_default
    }
}

/// Which devices `voxlive devices` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Listing {
    /// Devices that open, and the defaults ([`DeviceInfo::is_usable`]).
    #[default]
    Usable,
    /// Everything the hosts enumerate (`--all`).
    All,
}

/// Devices of one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostReport {
    pub name: String,
    pub is_default: bool,
    pub inputs: Vec<DeviceInfo>,
    pub outputs: Vec<DeviceInfo>,
}

/// Everything `voxlive devices` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceReport {
    pub hosts: Vec<HostReport>,
}

fn device_id(d: &cpal::Device) -> String {
    d.id().map(|id| id.id().to_string()).unwrap_or_default()
}

fn device_name(d: &cpal::Device) -> String {
    d.description()
        .map(|desc| desc.name().to_string())
        .unwrap_or_else(|_| "<unnamed>".into())
}

fn default_config(d: &cpal::Device, dir: Direction) -> Result<cpal::SupportedStreamConfig, cpal::Error> {
    match dir {
        Direction::Input => d.default_input_config(),
        Direction::Output => d.default_output_config(),
    }
}

/// Environment variable choosing the audio host: `alsa`, `pulseaudio` (or `pulse`), `auto`/empty = default.
pub const HOST_ENV: &str = "VOXLIVE_AUDIO_HOST";

/// The period asked of the native PulseAudio host when `--buffer-frames` is not given: its defaults
/// (2 s playback requests) would add seconds of latency. One uplink frame (20 ms): each capture fragment
/// completes a frame, so the frame leaves as soon as its last sample arrives, as with 10 ms fragments, and
/// the client wakes half as often (a playback request, a capture fragment and a frame per wake-up). The
/// price is on the playback side: the server's buffer is two periods, 40 ms instead of 20 (measured in
/// `benches/runs/live-cpu-2026-12-03b.md`; `--buffer-frames 480` restores 10 ms).
pub const PULSE_PERIOD: Duration = Duration::from_millis(20);

fn host_names() -> String {
    cpal::available_hosts()
        .iter()
        .map(|id| id.name().to_lowercase())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The host `VOXLIVE_AUDIO_HOST` names (`None` = not set or `auto`): matched case-insensitively on cpal's
/// host name, `pulse` standing for PulseAudio.
fn wanted_host() -> Result<Option<cpal::HostId>, AudioError> {
    let Ok(raw) = std::env::var(HOST_ENV) else {
        return Ok(None);
    };
    let want = raw.trim().to_lowercase();
    if want.is_empty() || want == "auto" || want == "default" {
        return Ok(None);
    }
    let want = if want == "pulse" {
        "pulseaudio".to_string()
    } else {
        want
    };
    let Some(id) = cpal::ALL_HOSTS
        .iter()
        .copied()
        .find(|id| id.name().to_lowercase() == want)
    else {
        return Err(AudioError::NoAudioSystem(format!(
            "{HOST_ENV}={raw:?} is not an audio host of this build; available: {} (or auto)",
            host_names()
        )));
    };
    if !cpal::available_hosts().contains(&id) {
        return Err(AudioError::NoAudioSystem(format!(
            "{HOST_ENV}={raw:?}: {} is not reachable (PulseAudio: no server at $PULSE_SERVER or \
             $XDG_RUNTIME_DIR/pulse/native); available: {} (or auto)",
            id.name(),
            host_names()
        )));
    }
    Ok(Some(id))
}

/// The id of the host [`open_host`] opens (for marking it in `voxlive devices`).
fn selected_host_id() -> Result<cpal::HostId, AudioError> {
    Ok(match wanted_host()? {
        Some(id) => id,
        None => cpal::default_host().id(),
    })
}

/// Opens the audio host: the one `VOXLIVE_AUDIO_HOST` names, else cpal's default (native PulseAudio when a
/// server answers, else ALSA).
pub fn open_host() -> Result<cpal::Host, AudioError> {
    match wanted_host()? {
        Some(id) => {
            cpal::host_from_id(id).map_err(|e| AudioError::NoAudioSystem(format!("{} ({HOST_ENV}): {e}", id.name())))
        }
        None => Ok(cpal::default_host()),
    }
}

/// The host's devices of one direction, in the host's order: the order the indexes of `voxlive devices`
/// and [`DeviceChoice::Index`] both count in. The caller holds an [`AlsaQuiet`].
fn devices(host: &cpal::Host, dir: Direction) -> Result<Vec<cpal::Device>, AudioError> {
    if host.id().name() == "ALSA" {
        // enumerating opens the ALSA jack plugin, which loads libjack
        quiet_jack();
    }
    let list = match dir {
        Direction::Input => host.input_devices().map(|it| it.collect()),
        Direction::Output => host.output_devices().map(|it| it.collect()),
    };
    list.map_err(|e| AudioError::NoAudioSystem(format!("{}: {e}", host.id().name())))
}

fn describe(host: &cpal::Host, dir: Direction) -> Result<Vec<DeviceInfo>, AudioError> {
    let default = match dir {
        Direction::Input => host.default_input_device(),
        Direction::Output => host.default_output_device(),
    }
    .and_then(|d| d.id().ok());
    Ok(devices(host, dir)?
        .iter()
        .enumerate()
        .map(|(index, d)| {
            let config = default_config(d, dir)
                .map(|c| DeviceConfig {
                    sample_rate: c.sample_rate(),
                    channels: c.channels(),
                    format: format!("{:?}", c.sample_format()),
                })
                .map_err(|e| e.to_string());
            DeviceInfo {
                index,
                id: device_id(d),
                name: device_name(d),
                is_default: default.is_some() && d.id().ok() == default,
                config,
            }
        })
        .collect())
}

/// Lists every available host with its input and output devices and their default configurations.
pub fn list_devices() -> Result<DeviceReport, AudioError> {
    let _quiet = AlsaQuiet::new();
    let default_id = selected_host_id()?;
    let mut hosts = Vec::new();
    let mut errors = Vec::new();
    for id in cpal::available_hosts() {
        let host = match cpal::host_from_id(id) {
            Ok(h) => h,
            Err(e) => {
                errors.push(format!("{}: {e}", id.name()));
                continue;
            }
        };
        match (describe(&host, Direction::Input), describe(&host, Direction::Output)) {
            (Ok(inputs), Ok(outputs)) => hosts.push(HostReport {
                name: id.name().to_string(),
                is_default: id == default_id,
                inputs,
                outputs,
            }),
            (Err(e), _) | (_, Err(e)) => errors.push(e.to_string()),
        }
    }
    if hosts.is_empty() {
        return Err(AudioError::NoAudioSystem(if errors.is_empty() {
            "no audio host compiled in".into()
        } else {
            errors.join("; ")
        }));
    }
    Ok(DeviceReport { hosts })
}

fn fmt_devices(f: &mut fmt::Formatter<'_>, title: &str, list: &[DeviceInfo], listing: Listing) -> fmt::Result {
    writeln!(f, "  {title}:")?;
    let shown: Vec<&DeviceInfo> = list.iter().filter(|d| d.is_listed(listing)).collect();
    if shown.is_empty() {
        let hidden = list.len();
        if hidden == 0 {
            writeln!(f, "    (none)")?;
        } else {
            writeln!(f, "    (none that open; {hidden} hidden)")?;
        }
    }
    let id_width = shown.iter().map(|d| d.id.len()).max().unwrap_or(0);
    for d in shown {
        let mark = if d.is_default { "*" } else { " " };
        // cpal's reason is the same generic sentence for every plugin; libasound's own words are in -vv
        let config = match &d.config {
            Ok(c) => format!("{} Hz, {} ch, {}", c.sample_rate, c.channels, c.format),
            Err(_) => "unavailable".into(),
        };
        writeln!(
            f,
            "  {mark} {:>2}  {:<id_width$}  {}  ({config})",
            d.index, d.id, d.name
        )?;
    }
    Ok(())
}

impl DeviceReport {
    /// The report as `voxlive devices` (`Listing::Usable`) or `voxlive devices --all` prints it.
    pub fn listing(&self, listing: Listing) -> DeviceListing<'_> {
        DeviceListing { report: self, listing }
    }

    /// How many devices `Listing::Usable` leaves out.
    pub fn hidden(&self) -> usize {
        self.hosts
            .iter()
            .flat_map(|h| h.inputs.iter().chain(&h.outputs))
            .filter(|d| !d.is_listed(Listing::Usable))
            .count()
    }
}

/// A [`DeviceReport`] printed with one [`Listing`].
pub struct DeviceListing<'a> {
    report: &'a DeviceReport,
    listing: Listing,
}

impl fmt::Display for DeviceListing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for h in &self.report.hosts {
            writeln!(f, "host {}{}", h.name, if h.is_default { " (default)" } else { "" })?;
            fmt_devices(f, "inputs", &h.inputs, self.listing)?;
            fmt_devices(f, "outputs", &h.outputs, self.listing)?;
        }
        writeln!(
            f,
            "* = default device; pick one with --input-device / --output-device NAME (substring) or INDEX"
        )?;
        let hidden = self.report.hidden();
        let devices = if hidden == 1 { "device" } else { "devices" };
        match self.listing {
            Listing::Usable if hidden > 0 => writeln!(
                f,
                "{hidden} {devices} that did not open are hidden (on ALSA: plugins without their backend); \
                 `voxlive devices --all` lists them"
            )?,
            Listing::All if hidden > 0 => writeln!(
                f,
                "{hidden} {devices} did not open (unavailable); `voxlive -vv devices --all` logs why"
            )?,
            _ => {}
        }
        Ok(())
    }
}

/// What `voxlive devices` prints: [`Listing::Usable`].
impl fmt::Display for DeviceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.listing(Listing::Usable).fmt(f)
    }
}

/// A device chosen on the selected host, with what it was asked for.
pub struct OpenedDevice {
    pub device: cpal::Device,
    /// The backend's id, as `voxlive devices` lists it.
    pub id: String,
    pub name: String,
    pub config: cpal::SupportedStreamConfig,
    /// The host's name (`ALSA`, `PulseAudio`), for logs.
    pub host: &'static str,
    /// The buffer size to ask for when the user did not choose one: `None` = the host's default.
    pub default_buffer_frames: Option<u32>,
}

impl OpenedDevice {
    /// The device's native format and the stream config to open it with: `--buffer-frames` if given, else
    /// what suits the host.
    pub fn stream_config(&self, requested: Option<u32>) -> (super::source::StreamFormat, cpal::StreamConfig) {
        let format = super::source::StreamFormat {
            sample_rate: self.config.sample_rate(),
            channels: self.config.channels(),
        };
        let config = cpal::StreamConfig {
            channels: format.channels,
            sample_rate: format.sample_rate,
            buffer_size: requested
                .or(self.default_buffer_frames)
                .map_or(cpal::BufferSize::Default, cpal::BufferSize::Fixed),
        };
        (format, config)
    }

    /// The error for a sample format voxlive has no Rust type for.
    pub fn unsupported_format(&self, direction: Direction, format: cpal::SampleFormat) -> AudioError {
        AudioError::UnsupportedConfig {
            direction,
            device: self.name.clone(),
            reason: format!("sample format {format:?}"),
        }
    }
}

/// The buffer size a host gets when none is requested: a [`PULSE_PERIOD`] on the native PulseAudio host
/// (960 frames at 48 kHz), the device default elsewhere.
fn host_buffer_frames(host: cpal::HostId, sample_rate: u32) -> Option<u32> {
    (host.name() == "PulseAudio")
        .then(|| ((u64::from(sample_rate) * PULSE_PERIOD.as_millis() as u64 / 1000) as u32).max(128))
}

fn names(list: &[cpal::Device]) -> String {
    if list.is_empty() {
        return "(none)".into();
    }
    list.iter()
        .enumerate()
        .map(|(i, d)| format!("{i}: {} ({})", device_id(d), device_name(d)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Picks the input or output device `choice` on `host` ([`open_host`]) and reads its default configuration.
pub fn pick(host: &cpal::Host, dir: Direction, choice: &DeviceChoice) -> Result<OpenedDevice, AudioError> {
    let _quiet = AlsaQuiet::new();
    let list = devices(host, dir)?;
    let device = match choice {
        DeviceChoice::Default => match dir {
            Direction::Input => host.default_input_device(),
            Direction::Output => host.default_output_device(),
        }
        .ok_or_else(|| AudioError::NoDefaultDevice {
            direction: dir,
            available: names(&list),
        })?,
        DeviceChoice::Index(i) => list.get(*i).cloned().ok_or_else(|| AudioError::DeviceNotFound {
            direction: dir,
            wanted: i.to_string(),
            available: names(&list),
        })?,
        DeviceChoice::Name(n) => {
            // an exact id ("pulse") first, then a substring of the id or the description
            let want = n.to_lowercase();
            let exact = list.iter().find(|d| device_id(d).to_lowercase() == want);
            exact
                .or_else(|| {
                    list.iter().find(|d| {
                        device_id(d).to_lowercase().contains(&want) || device_name(d).to_lowercase().contains(&want)
                    })
                })
                .cloned()
                .ok_or_else(|| AudioError::DeviceNotFound {
                    direction: dir,
                    wanted: n.clone(),
                    available: names(&list),
                })?
        }
    };
    let name = device_name(&device);
    let config = default_config(&device, dir).map_err(|e| AudioError::from_cpal(dir, &name, e))?;
    let host_id = host.id();
    Ok(OpenedDevice {
        default_buffer_frames: host_buffer_frames(host_id, config.sample_rate()),
        id: device_id(&device),
        device,
        name,
        config,
        host: host_id.name(),
    })
}

#[cfg(test)]
#[path = "device_tests.rs"]
mod tests;
