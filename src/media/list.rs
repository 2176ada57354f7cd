//! `--images DIR|GLOB` to a list of files: every image in a directory, or the files matching a pattern
//! whose last part holds `*` (any run of characters) and `?` (one character), e.g. `shots/*.png`. Name
//! order, so frames go out in a predictable sequence; at most [`MAX_IMAGES`].

use std::path::{Path, PathBuf};

use super::MediaError;

/// Most images one flag may name: at 1 frame/s, over 16 minutes of frames.
pub const MAX_IMAGES: usize = 1000;

/// File extensions taken from a directory (a pattern matches what it says).
const EXTENSIONS: [&str; 5] = ["jpg", "jpeg", "png", "webp", "gif"];

/// The files `spec` names, sorted by name.
pub fn expand(spec: &str) -> Result<Vec<PathBuf>, MediaError> {
    let path = Path::new(spec);
    let bad = |detail: String| MediaError::Invalid(format!("--images {spec}: {detail}"));
    let (dir, pattern) = if path.is_dir() {
        (path.to_path_buf(), None)
    } else {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if !name.contains(['*', '?']) {
            return Err(bad("not a directory, and no * or ? to match files with".into()));
        }
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if parent.to_string_lossy().contains(['*', '?']) {
            return Err(bad("only the file name may hold * or ? (e.g. shots/*.png)".into()));
        }
        (parent.to_path_buf(), Some(name.to_string()))
    };
    let entries = std::fs::read_dir(&dir).map_err(|e| bad(e.to_string()))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| bad(e.to_string()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let wanted = match &pattern {
            Some(p) => matches(p, &name),
            None => Path::new(&name)
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())),
        };
        if wanted && entry.file_type().map(|t| !t.is_dir()).unwrap_or(false) {
            files.push(entry.path());
            if files.len() > MAX_IMAGES {
                return Err(bad(format!("more than {MAX_IMAGES} images")));
            }
        }
    }
    if files.is_empty() {
        return Err(bad("no image files there".into()));
    }
    files.sort();
    Ok(files)
}

/// Whether `name` matches `pattern` (`*` any run, `?` one character), without backtracking blow-up:
/// the classic greedy match with one remembered star.
fn matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matching() {
        assert!(matches("*.png", "a.png"));
        assert!(!matches("*.png", "a.png.txt"));
        assert!(matches("shot-??.jpg", "shot-01.jpg"));
        assert!(!matches("shot-??.jpg", "shot-1.jpg"));
        assert!(matches("*a*b*", "xxaYYb"));
        assert!(matches("*", ""));
    }

    #[test]
    fn a_directory_gives_its_images_in_name_order_and_a_pattern_what_it_matches() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.png", "a.JPG", "c.webp", "notes.txt", "d.png"] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub.png")).unwrap();
        let names = |v: Vec<PathBuf>| -> Vec<String> {
            v.iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        let all = expand(dir.path().to_str().unwrap()).unwrap();
        assert_eq!(names(all), ["a.JPG", "b.png", "c.webp", "d.png"]);
        let png = expand(dir.path().join("*.png").to_str().unwrap()).unwrap();
        assert_eq!(names(png), ["b.png", "d.png"]);
        assert!(expand(dir.path().join("*.gif").to_str().unwrap())
            .unwrap_err()
            .to_string()
            .contains("no image"));
        assert!(expand(dir.path().join("nope").to_str().unwrap()).is_err());
        assert!(expand(dir.path().join("*/x.png").to_str().unwrap()).is_err());
    }
}
