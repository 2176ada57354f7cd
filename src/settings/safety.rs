//! Safety settings passed through to setup's top-level `safetySettings` (`--safety CATEGORY=THRESHOLD`,
//! the config file's `[safety]` table). Names are checked against the official SDK's enums, so a typo is an
//! error here rather than a 1007 close; the `HARM_CATEGORY_` prefix and upper case are optional.

use crate::protocol::SafetySetting;

use super::SettingsError;

pub const CATEGORIES: [&str; 5] = [
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_CIVIC_INTEGRITY",
];

pub const THRESHOLDS: [&str; 5] = [
    "BLOCK_LOW_AND_ABOVE",
    "BLOCK_MEDIUM_AND_ABOVE",
    "BLOCK_ONLY_HIGH",
    "BLOCK_NONE",
    "OFF",
];

/// One setting from its two names, normalised (`harassment` -> `HARM_CATEGORY_HARASSMENT`).
pub fn setting(category: &str, threshold: &str) -> Result<SafetySetting, SettingsError> {
    let upper = |s: &str| s.trim().to_ascii_uppercase().replace('-', "_");
    let mut cat = upper(category);
    if !cat.starts_with("HARM_CATEGORY_") {
        cat = format!("HARM_CATEGORY_{cat}");
    }
    if !CATEGORIES.contains(&cat.as_str()) {
        return Err(SettingsError::Invalid(format!(
            "safety category {:?}: use one of {}",
            category.trim(),
            CATEGORIES.join(", ")
        )));
    }
    let thr = upper(threshold);
    if !THRESHOLDS.contains(&thr.as_str()) {
        return Err(SettingsError::Invalid(format!(
            "safety threshold {:?} for {cat}: use one of {}",
            threshold.trim(),
            THRESHOLDS.join(", ")
        )));
    }
    Ok(SafetySetting {
        category: cat,
        threshold: thr,
    })
}

/// The config file's table, then the flags (`CATEGORY=THRESHOLD`); a category given twice keeps the
/// later threshold, in the place it first appeared.
pub fn resolve<'a>(
    file: impl IntoIterator<Item = (&'a str, &'a str)>,
    flags: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<SafetySetting>, SettingsError> {
    let mut out: Vec<SafetySetting> = Vec::new();
    let mut add = |s: SafetySetting| match out.iter_mut().find(|o| o.category == s.category) {
        Some(o) => o.threshold = s.threshold,
        None => out.push(s),
    };
    for (c, t) in file {
        add(setting(c, t)?);
    }
    for flag in flags {
        let (c, t) = flag
            .split_once('=')
            .ok_or_else(|| SettingsError::Invalid(format!("--safety {flag:?}: write it as CATEGORY=THRESHOLD")))?;
        add(setting(c, t)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_normalised_and_flags_win() {
        let got = resolve(
            [("harassment", "block_none"), ("HATE_SPEECH", "OFF")],
            [
                "harassment=block-only-high",
                "HARM_CATEGORY_DANGEROUS_CONTENT=BLOCK_LOW_AND_ABOVE",
            ],
        )
        .unwrap();
        let pairs: Vec<_> = got
            .iter()
            .map(|s| (s.category.as_str(), s.threshold.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("HARM_CATEGORY_HARASSMENT", "BLOCK_ONLY_HIGH"),
                ("HARM_CATEGORY_HATE_SPEECH", "OFF"),
                ("HARM_CATEGORY_DANGEROUS_CONTENT", "BLOCK_LOW_AND_ABOVE")
            ]
        );
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let err = resolve([], ["violence=off"]).unwrap_err().to_string();
        assert!(err.contains("HARM_CATEGORY_HARASSMENT"), "{err}");
        let err = resolve([], ["harassment=sometimes"]).unwrap_err().to_string();
        assert!(err.contains("BLOCK_ONLY_HIGH"), "{err}");
        assert!(resolve([], ["harassment"])
            .unwrap_err()
            .to_string()
            .contains("CATEGORY=THRESHOLD"));
    }
}
