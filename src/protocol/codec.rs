//! Encoding rules shared by every wire type: base64 bytes, protobuf duration strings and int64 numbers.
//!
//! protocol.md: send standard base64 with padding; accept standard and URL-safe, padded or not (the Python
//! SDK sends URL-safe). Durations are strings such as `"50s"` or `"0.500s"`. Protobuf JSON writes int64 as a
//! string, but some peers send a number: accept both.

use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serializer};

use super::ProtocolError;

/// Encodes bytes as standard base64 with padding (what every client in the wild accepts).
pub fn encode_base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard or URL-safe base64, with or without padding.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, ProtocolError> {
    let trimmed = text.trim_end_matches('=');
    // Map the standard alphabet onto the URL-safe one so one unpadded engine reads both.
    let needs_map = trimmed.bytes().any(|b| b == b'+' || b == b'/');
    let decoded = if needs_map {
        let mapped: String = trimmed
            .chars()
            .map(|c| match c {
                '+' => '-',
                '/' => '_',
                other => other,
            })
            .collect();
        URL_SAFE_NO_PAD.decode(mapped.as_bytes())
    } else {
        URL_SAFE_NO_PAD.decode(trimmed.as_bytes())
    };
    decoded.map_err(|e| ProtocolError::Base64(e.to_string()))
}

/// serde adapter for `Vec<u8>` fields carried as base64 strings.
pub mod base64_bytes {
    use super::*;

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode_base64(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        decode_base64(&text).map_err(serde::de::Error::custom)
    }
}

/// serde adapter for optional int64 values that may arrive as a JSON number or a decimal string.
pub mod int64_opt {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.serialize_str(&v.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum NumOrText {
            Num(i64),
            Text(String),
        }
        match Option::<NumOrText>::deserialize(d)? {
            None => Ok(None),
            Some(NumOrText::Num(n)) => Ok(Some(n)),
            Some(NumOrText::Text(t)) => t
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| serde::de::Error::custom(format!("not an integer: {t:?}"))),
        }
    }
}

/// An optional f32 that must be finite once narrowed from the JSON number: `1e300` would become infinity
/// (and be written back as null), so it is an invalid argument instead.
pub fn finite_f32_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f32>, D::Error> {
    let v: Option<f64> = serde::Deserialize::deserialize(d)?;
    match v {
        None => Ok(None),
        Some(x) if x.is_finite() && (x as f32).is_finite() => Ok(Some(x as f32)),
        Some(x) => Err(serde::de::Error::custom(format!("{x} is out of range"))),
    }
}

/// Parses a protobuf JSON duration such as `"50s"`, `"0.500s"` or `"1.5s"`.
pub fn parse_duration(text: &str) -> Result<Duration, ProtocolError> {
    let bad = || ProtocolError::Duration(text.to_string());
    let number = text.trim().strip_suffix('s').ok_or_else(bad)?;
    let seconds: f64 = number.parse().map_err(|_| bad())?;
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(bad());
    }
    // `Duration::from_secs_f64` panics beyond u64::MAX seconds: a peer's "1e300s" is an error, not a crash.
    Duration::try_from_secs_f64(seconds).map_err(|_| bad())
}

/// Lowest and highest PCM sample rates accepted from a peer's mime type; anything else is not believed
/// (it would size resampler buffers and timers).
pub const MIN_PCM_RATE: u32 = 8_000;
pub const MAX_PCM_RATE: u32 = 192_000;

/// Formats a duration the way protobuf JSON does: whole seconds as `"50s"`, otherwise with 3, 6 or 9 digits.
pub fn format_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    let nanos = duration.subsec_nanos();
    if nanos == 0 {
        format!("{secs}s")
    } else if nanos % 1_000_000 == 0 {
        format!("{secs}.{:03}s", nanos / 1_000_000)
    } else if nanos % 1_000 == 0 {
        format!("{secs}.{:06}s", nanos / 1_000)
    } else {
        format!("{secs}.{nanos:09}s")
    }
}

/// Reads the sample rate from a mime type such as `audio/pcm;rate=24000`; a rate outside
/// [`MIN_PCM_RATE`]..=[`MAX_PCM_RATE`] counts as absent.
pub fn pcm_rate(mime_type: &str) -> Option<u32> {
    mime_type
        .split(';')
        .skip(1)
        .filter_map(|p| p.trim().strip_prefix("rate="))
        .find_map(|r| r.trim().parse().ok())
        .filter(|r| (MIN_PCM_RATE..=MAX_PCM_RATE).contains(r))
}

/// Little-endian 16-bit PCM bytes to samples; an odd trailing byte is ignored.
pub fn pcm16_from_bytes(bytes: &[u8]) -> Vec<i16> {
    bytes
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

/// Samples to little-endian 16-bit PCM bytes.
pub fn pcm16_to_bytes(samples: &[i16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(samples.len() * 2);
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_accepts_standard_and_url_safe_padded_or_not() {
        let bytes: Vec<u8> = (0u8..=255).collect();
        let standard = STANDARD.encode(&bytes);
        let url = base64::engine::general_purpose::URL_SAFE.encode(&bytes);
        assert_ne!(standard, url);
        for text in [
            standard.clone(),
            url.clone(),
            standard.trim_end_matches('=').to_string(),
            url.trim_end_matches('=').to_string(),
        ] {
            assert_eq!(decode_base64(&text).unwrap(), bytes);
        }
        assert_eq!(encode_base64(&bytes), standard);
    }

    #[test]
    fn base64_rejects_garbage() {
        assert!(decode_base64("not base64!").is_err());
    }

    #[test]
    fn durations_round_trip() {
        assert_eq!(parse_duration("50s").unwrap(), Duration::from_secs(50));
        assert_eq!(parse_duration("0.500s").unwrap(), Duration::from_millis(500));
        assert_eq!(format_duration(Duration::from_millis(500)), "0.500s");
        assert_eq!(format_duration(Duration::from_secs(9)), "9s");
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("-1s").is_err());
        // absurd values from a peer are errors, never a panic
        for absurd in ["1e300s", "18446744073709551616s", "NaNs", "infs", "1e20s"] {
            assert!(parse_duration(absurd).is_err(), "{absurd}");
        }
    }

    #[test]
    fn pcm_rate_reads_mime_parameter() {
        assert_eq!(pcm_rate("audio/pcm;rate=24000"), Some(24000));
        assert_eq!(pcm_rate("audio/pcm; rate=16000"), Some(16000));
        assert_eq!(pcm_rate("audio/pcm"), None);
        assert_eq!(pcm_rate("audio/pcm;rate=0"), None);
        assert_eq!(pcm_rate("audio/pcm;rate=4294967295"), None);
        assert_eq!(pcm_rate("audio/pcm;rate=1"), None);
    }

    #[test]
    fn pcm16_round_trip() {
        let s = [0i16, 1, -1, i16::MAX, i16::MIN];
        assert_eq!(pcm16_from_bytes(&pcm16_to_bytes(&s)), s);
    }
}
