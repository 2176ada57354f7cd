//! `/image PATH` typed during a session (the terminal UI's input line, plain stdin lines, `chat`).

/// The path of an `/image PATH` line (quotes around the path are taken off); None for any other line.
pub fn image_command(line: &str) -> Option<&str> {
    let rest = line.trim().strip_prefix("/image")?;
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return None; // "/images" or "/imagex" are other words
    }
    let path = rest.trim();
    let unquoted = path
        .strip_prefix('"')
        .and_then(|p| p.strip_suffix('"'))
        .or_else(|| path.strip_prefix('\'').and_then(|p| p.strip_suffix('\'')))
        .unwrap_or(path);
    Some(unquoted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_command_and_nothing_else() {
        assert_eq!(image_command("/image shot.png"), Some("shot.png"));
        assert_eq!(image_command("  /image   \"my shot.png\" "), Some("my shot.png"));
        assert_eq!(image_command("/image"), Some(""));
        assert_eq!(image_command("/images dir"), None);
        assert_eq!(image_command("look at /image x"), None);
    }
}
