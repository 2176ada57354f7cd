//! Opt-in PII redaction (`--redact-pii`): e-mail addresses, card numbers (13 to 19 digits passing the
//! Luhn check) and phone numbers (9 or more digits) in typed text and transcripts are replaced before they
//! are logged or saved. A heuristic, deliberately simple: it errs on the side of masking digit runs.

use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns PII redaction on for the rest of the process.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// `text` with PII masked when redaction is on, else unchanged.
pub fn scrub(text: &str) -> String {
    if enabled() {
        mask(text)
    } else {
        text.to_string()
    }
}

/// Masks e-mail addresses as `[email]`, card numbers as `[card]`, phone numbers as `[phone]`.
pub fn mask(text: &str) -> String {
    let emails: Vec<String> = text
        .split(' ')
        .map(|w| {
            if looks_like_email(w) {
                "[email]".to_string()
            } else {
                w.to_string()
            }
        })
        .collect();
    mask_digits(&emails.join(" "))
}

fn looks_like_email(word: &str) -> bool {
    let w = word.trim_matches(|c: char| !c.is_alphanumeric());
    let Some((user, domain)) = w.split_once('@') else {
        return false;
    };
    let ok = |c: char| c.is_alphanumeric() || "._%+-".contains(c);
    !user.is_empty() && domain.contains('.') && user.chars().all(ok) && domain.chars().all(ok)
}

fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// A phone number has at least this many digits (so dates such as 2026-12-02, 8 digits, are kept).
const MIN_PHONE_DIGITS: usize = 9;

/// Replaces runs of digits (with spaces, dashes, parentheses or a leading + between them).
fn mask_digits(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let starts =
            chars[i].is_ascii_digit() || (chars[i] == '+' && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit()));
        if !starts {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let mut j = i;
        let mut digits = Vec::new();
        let mut end = i;
        while j < chars.len() {
            let c = chars[j];
            if let Some(d) = c.to_digit(10).filter(|_| c.is_ascii_digit()) {
                digits.push(d);
                end = j + 1;
            } else if !(" -()+".contains(c)) {
                break;
            }
            j += 1;
        }
        let label = if (13..=19).contains(&digits.len()) && luhn(&digits) {
            Some("[card]")
        } else if digits.len() >= MIN_PHONE_DIGITS {
            Some("[phone]")
        } else {
            None
        };
        match label {
            Some(l) => out.push_str(l),
            None => out.extend(&chars[i..end]),
        }
        i = end.max(i + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_cards_and_phones_are_masked() {
        assert_eq!(mask("mail me at jane.doe+x@example.co.uk."), "mail me at [email]");
        assert_eq!(mask("card 4111 1111 1111 1111 ok"), "card [card] ok");
        assert_eq!(mask("call +1 (555) 123-4567 now"), "call [phone] now");
        assert_eq!(mask("it is 12:30 on day 3 of 2026"), "it is 12:30 on day 3 of 2026");
        assert_eq!(mask("no pii here"), "no pii here");
        assert_eq!(
            mask("2026-12-02T01:55:42.207103Z log"),
            "2026-12-02T01:55:42.207103Z log"
        );
    }

    #[test]
    fn off_by_default() {
        assert_eq!(scrub("a@b.com"), "a@b.com");
    }
}
