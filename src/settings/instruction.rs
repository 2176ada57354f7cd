//! The system instruction as given: `--system TEXT`, `--system @FILE` (a UTF-8 file, at most
//! [`MAX_INSTRUCTION_BYTES`]), or `--system @@TEXT` for text that itself starts with `@`.

use std::io::Read;
use std::path::Path;

use super::SettingsError;

/// Largest instruction file read: 256 KiB, far beyond any useful instruction and well inside a setup
/// message the service accepts.
pub const MAX_INSTRUCTION_BYTES: u64 = 256 << 10;

/// The instruction text `given` stands for; empty text is refused (the service would ignore it).
pub fn resolve(given: &str) -> Result<String, SettingsError> {
    let text = if let Some(literal) = given.strip_prefix("@@") {
        format!("@{literal}")
    } else if let Some(path) = given.strip_prefix('@') {
        read_file(Path::new(path))?
    } else {
        given.to_string()
    };
    if text.trim().is_empty() {
        return Err(SettingsError::Invalid(format!(
            "--system {}: the instruction is empty",
            shown(given)
        )));
    }
    Ok(text)
}

fn read_file(path: &Path) -> Result<String, SettingsError> {
    let bad = |detail: String| SettingsError::Invalid(format!("--system @{}: {detail}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let mut bytes = Vec::new();
    // one byte over the cap tells "too big" without reading a huge file
    file.take(MAX_INSTRUCTION_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| bad(e.to_string()))?;
    if bytes.len() as u64 > MAX_INSTRUCTION_BYTES {
        return Err(bad(format!(
            "larger than {} KiB; give a shorter instruction",
            MAX_INSTRUCTION_BYTES >> 10
        )));
    }
    String::from_utf8(bytes).map_err(|e| bad(format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to())))
}

/// The flag's value for a message, cut short.
fn shown(given: &str) -> String {
    let cut: String = given.chars().take(40).collect();
    format!("{cut:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_file_and_escaped_at() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sys.txt");
        std::fs::write(&path, "Be brief.\nAnswer in French.").unwrap();
        assert_eq!(resolve("Be kind.").unwrap(), "Be kind.");
        assert_eq!(
            resolve(&format!("@{}", path.display())).unwrap(),
            "Be brief.\nAnswer in French."
        );
        assert_eq!(resolve("@@handle is my name").unwrap(), "@handle is my name");
    }

    #[test]
    fn missing_huge_binary_and_empty_files_fail_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let err = resolve(&format!("@{}", dir.path().join("nope.txt").display())).unwrap_err();
        assert!(err.to_string().contains("nope.txt"), "{err}");
        let big = dir.path().join("big.txt");
        std::fs::write(&big, vec![b'a'; MAX_INSTRUCTION_BYTES as usize + 1]).unwrap();
        assert!(resolve(&format!("@{}", big.display()))
            .unwrap_err()
            .to_string()
            .contains("larger than 256 KiB"));
        let bin = dir.path().join("bin.txt");
        std::fs::write(&bin, [b'o', b'k', 0xff, 0xfe]).unwrap();
        assert!(resolve(&format!("@{}", bin.display()))
            .unwrap_err()
            .to_string()
            .contains("not UTF-8"));
        let empty = dir.path().join("empty.txt");
        std::fs::write(&empty, "  \n").unwrap();
        assert!(resolve(&format!("@{}", empty.display()))
            .unwrap_err()
            .to_string()
            .contains("empty"));
    }
}
