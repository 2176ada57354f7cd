//! Built-in `current_time`: the local date and time in the system's time zone (the C library's view of
//! TZ and /etc/localtime), so "what time is it" needs no network.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::{Tool, ToolError, ToolFuture, ToolOutput};

/// See the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock;

/// A broken-down local time.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 = Sunday.
    pub weekday: u32,
    pub utc_offset_secs: i64,
    pub zone: String,
}

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

impl LocalTime {
    /// `unix` seconds in the system's time zone (UTC where the platform gives no zone).
    pub fn at(unix: i64) -> LocalTime {
        local(unix).unwrap_or_else(|| utc(unix))
    }

    pub fn offset(&self) -> String {
        let sign = if self.utc_offset_secs < 0 { '-' } else { '+' };
        let abs = self.utc_offset_secs.unsigned_abs();
        format!("{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60)
    }

    pub fn iso8601(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.offset()
        )
    }

    fn to_json(&self, unix: i64) -> Value {
        json!({
            "iso8601": self.iso8601(),
            "date": format!("{:04}-{:02}-{:02}", self.year, self.month, self.day),
            "time": format!("{:02}:{:02}:{:02}", self.hour, self.minute, self.second),
            "weekday": WEEKDAYS[(self.weekday % 7) as usize],
            "timezone": self.zone,
            "utc_offset": self.offset(),
            "unix_seconds": unix,
        })
    }
}

/// UTC from days since the epoch (Howard Hinnant's civil-from-days algorithm).
fn utc(unix: i64) -> LocalTime {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    LocalTime {
        year,
        month,
        day,
        hour: (secs / 3600) as u32,
        minute: ((secs % 3600) / 60) as u32,
        second: (secs % 60) as u32,
        weekday: (days + 4).rem_euclid(7) as u32,
        utc_offset_secs: 0,
        zone: "UTC".into(),
    }
}

#[cfg(target_os = "linux")]
fn local(unix: i64) -> Option<LocalTime> {
    #[allow(clippy::useless_conversion)] // time_t is i64 here, i32 on some targets
    let t: libc::time_t = unix.try_into().ok()?;
    // SAFETY: localtime_r writes only into `tm`, which we own; both pointers are valid for the call.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !ok {
        return None;
    }
    let zone = if tm.tm_zone.is_null() {
        String::new()
    } else {
        // SAFETY: tm_zone points at a NUL-terminated static string owned by the C library.
        unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) }
            .to_string_lossy()
            .into_owned()
    };
    Some(LocalTime {
        year: i64::from(tm.tm_year) + 1900,
        month: u32::try_from(tm.tm_mon + 1).ok()?,
        day: u32::try_from(tm.tm_mday).ok()?,
        hour: u32::try_from(tm.tm_hour).ok()?,
        minute: u32::try_from(tm.tm_min).ok()?,
        second: u32::try_from(tm.tm_sec).ok()?,
        weekday: u32::try_from(tm.tm_wday).ok()?,
        utc_offset_secs: tm.tm_gmtoff,
        zone,
    })
}

#[cfg(not(target_os = "linux"))]
fn local(_unix: i64) -> Option<LocalTime> {
    None
}

impl Tool for Clock {
    fn name(&self) -> &str {
        "current_time"
    }

    fn description(&self) -> &str {
        "The current local date, time, weekday and time zone of the user's computer."
    }

    fn parameters(&self) -> Value {
        json!({"type": "object", "properties": {}})
    }

    fn run(&self, _args: Value) -> ToolFuture {
        Box::pin(async move {
            let unix = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_err(|e| ToolError::Failed {
                    message: format!("the system clock is before 1970: {e}"),
                    retryable: false,
                })?
                .as_secs() as i64;
            Ok(ToolOutput::from_value(LocalTime::at(unix).to_json(unix)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_civil_dates_are_right() {
        let t = utc(0);
        assert_eq!((t.year, t.month, t.day, t.weekday), (1970, 1, 1, 4));
        // 2026-12-03T14:05:09Z, a Thursday
        let t = utc(1_796_306_709);
        assert_eq!(t.iso8601(), "2026-12-03T14:05:09+00:00");
        assert_eq!(WEEKDAYS[t.weekday as usize], "Thursday");
        assert_eq!(utc(951_782_400).iso8601(), "2000-02-29T00:00:00+00:00");
    }

    #[tokio::test]
    async fn the_tool_answers_with_date_time_and_zone() {
        let out = Clock.run(json!({})).await.unwrap();
        for key in ["iso8601", "date", "time", "weekday", "timezone", "utc_offset"] {
            assert!(out.response.contains_key(key), "{key} missing: {:?}", out.response);
        }
    }
}
