//! Audio hosts and devices: the only file that names cpal hosts and devices. Lists them for
//! `voxlive devices` and picks one by name (case-insensitive substring) or index, with errors that list what
//! is available, so a wrong `--input` is fixed without reading docs. Never panics.

use std::fmt;
use std::str::FromStr;

use cpal::traits::{DeviceTrait, HostTrait};

use super::error::Direction;
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

fn devices(host: &cpal::Host, dir: Direction) -> Result<Vec<cpal::Device>, AudioError> {
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
    let default_id = cpal::default_host().id();
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

fn fmt_devices(f: &mut fmt::Formatter<'_>, title: &str, list: &[DeviceInfo]) -> fmt::Result {
    writeln!(f, "  {title}:")?;
    if list.is_empty() {
        writeln!(f, "    (none)")?;
    }
    let id_width = list.iter().map(|d| d.id.len()).max().unwrap_or(0);
    for d in list {
        let mark = if d.is_default { "*" } else { " " };
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

impl fmt::Display for DeviceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for h in &self.hosts {
            writeln!(f, "host {}{}", h.name, if h.is_default { " (default)" } else { "" })?;
            fmt_devices(f, "inputs", &h.inputs)?;
            fmt_devices(f, "outputs", &h.outputs)?;
        }
        writeln!(
            f,
            "* = default device; pick one with --input-device / --output-device NAME (substring) or INDEX"
        )
    }
}

/// A device chosen on the default host, with what it was asked for.
pub struct OpenedDevice {
    pub device: cpal::Device,
    pub name: String,
    pub config: cpal::SupportedStreamConfig,
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

/// Picks the input or output device `choice` on the default host and reads its default configuration.
pub fn pick(dir: Direction, choice: &DeviceChoice) -> Result<OpenedDevice, AudioError> {
    let host = cpal::default_host();
    let list = devices(&host, dir)?;
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
    Ok(OpenedDevice { device, name, config })
}

#[cfg(test)]
mod tests {
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
}
