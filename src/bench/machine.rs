//! The machine a run was measured on (CPU model, cores, OS), and the process's own CPU time and peak
//! memory from `getrusage`: the figures the report carries beside the latencies.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cpu_model: String,
    pub cores: usize,
    pub os: String,
    pub kernel: String,
}

impl Machine {
    pub fn this() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")
                    .and_then(|r| r.split_once(':'))
                    .map(|(_, v)| v.trim())
            })
            .unwrap_or(std::env::consts::ARCH)
            .to_string();
        let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
        let os = os_release
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_else(|| std::env::consts::OS.to_string());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|k| k.trim().to_string())
            .unwrap_or_default();
        Machine {
            cpu_model,
            cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            os,
            kernel,
        }
    }
}

/// CPU time (user + system) and peak resident memory of this process so far.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Usage {
    pub cpu_secs: f64,
    pub peak_rss_mb: f64,
}

#[cfg(target_os = "linux")]
pub fn usage() -> Option<Usage> {
    // SAFETY: getrusage writes one plain struct we own; RUSAGE_SELF is always valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return None;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Some(Usage {
        cpu_secs: secs(ru.ru_utime) + secs(ru.ru_stime),
        // Linux reports kilobytes
        peak_rss_mb: ru.ru_maxrss as f64 / 1024.0,
    })
}

#[cfg(not(target_os = "linux"))]
pub fn usage() -> Option<Usage> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_and_usage_are_read() {
        let m = Machine::this();
        assert!(m.cores >= 1 && !m.cpu_model.is_empty());
        let u = usage().unwrap();
        assert!(u.cpu_secs > 0.0 && u.peak_rss_mb > 1.0, "{u:?}");
    }
}
