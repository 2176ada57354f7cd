//! Built-in `read_file`: a UTF-8 text file from one of the folders the user allowed (`--allow-dir`). The
//! path is resolved against each allowed folder, `..` components are refused outright, and the canonical
//! path (every symlink followed) must still lie inside that folder, so neither `../` nor a symlink can
//! reach anything else. Only regular files, at most [`MAX_BYTES`] (or the configured cap).

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use serde_json::{json, Value};

use super::{Tool, ToolError, ToolFuture, ToolOutput};

/// The largest file read by default (256 KiB: a model's context is not a place for whole disks).
pub const MAX_BYTES: u64 = 256 * 1024;

/// See the module docs.
#[derive(Debug, Clone)]
pub struct ReadFile {
    /// Canonical allowed folders.
    dirs: Vec<PathBuf>,
    max_bytes: u64,
}

impl ReadFile {
    /// Folders are canonicalized here; each must exist and be a directory.
    pub fn new(dirs: &[PathBuf], max_bytes: u64) -> Result<ReadFile, String> {
        if dirs.is_empty() {
            return Err("read_file needs at least one folder it may read from (--allow-dir DIR)".into());
        }
        let mut canonical = Vec::with_capacity(dirs.len());
        for d in dirs {
            let c = d
                .canonicalize()
                .map_err(|e| format!("--allow-dir {}: {e}", d.display()))?;
            if !c.is_dir() {
                return Err(format!("--allow-dir {}: not a folder", d.display()));
            }
            canonical.push(c);
        }
        Ok(ReadFile {
            dirs: canonical,
            max_bytes,
        })
    }

    /// The file `requested` names inside an allowed folder, or why it may not be read.
    pub fn resolve(&self, requested: &str) -> Result<PathBuf, ToolError> {
        let path = Path::new(requested);
        if requested.is_empty() || requested.contains('\0') {
            return Err(ToolError::InvalidArgument("give a file path".into()));
        }
        if path.components().any(|c| c == Component::ParentDir) {
            return Err(ToolError::PermissionDenied(format!(
                "{requested}: paths with '..' are not allowed"
            )));
        }
        let mut not_found = true;
        for dir in &self.dirs {
            let candidate = if path.is_absolute() {
                path.to_path_buf()
            } else {
                dir.join(path)
            };
            let Ok(real) = candidate.canonicalize() else {
                continue;
            };
            not_found = false;
            if real.starts_with(dir) {
                return Ok(real);
            }
        }
        Err(if not_found {
            ToolError::NotFound(format!("{requested}: no such file in the allowed folders"))
        } else {
            ToolError::PermissionDenied(format!("{requested}: outside the allowed folders"))
        })
    }

    /// Reads the resolved file: a regular file, within the size cap, UTF-8.
    pub fn read(&self, requested: &str) -> Result<(PathBuf, String), ToolError> {
        let real = self.resolve(requested)?;
        let io = |e: std::io::Error| ToolError::Failed {
            message: format!("{requested}: {e}"),
            retryable: false,
        };
        let meta = std::fs::metadata(&real).map_err(io)?;
        if !meta.is_file() {
            return Err(ToolError::InvalidArgument(format!("{requested}: not a regular file")));
        }
        if meta.len() > self.max_bytes {
            return Err(ToolError::TooLarge(format!(
                "{requested}: {} bytes, more than the {} bytes allowed",
                meta.len(),
                self.max_bytes
            )));
        }
        // read at most one byte over the cap: a file that grew since the check is still bounded
        let mut bytes = Vec::new();
        std::fs::File::open(&real)
            .map_err(io)?
            .take(self.max_bytes + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > self.max_bytes {
            return Err(ToolError::TooLarge(format!(
                "{requested}: more than the {} bytes allowed",
                self.max_bytes
            )));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            ToolError::InvalidArgument(format!(
                "{requested}: not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ))
        })?;
        Ok((real, text))
    }
}

impl Tool for ReadFile {
    fn name(&self) -> &str {
        "read_file"
    }

    fn description(&self) -> &str {
        "Reads a UTF-8 text file from the folders the user allowed; give a path relative to such a folder."
    }

    fn parameters(&self) -> Value {
        json!({"type": "object",
               "properties": {"path": {"type": "string", "description": "file path, relative to an allowed folder"}},
               "required": ["path"]})
    }

    fn run(&self, args: Value) -> ToolFuture {
        let this = self.clone();
        Box::pin(async move {
            let requested = args
                .get("path")
                .and_then(Value::as_str)
                .ok_or_else(|| ToolError::InvalidArgument("give the file's path as a string".into()))?
                .to_string();
            let read = tokio::task::spawn_blocking(move || this.read(&requested).map(|r| (requested, r)));
            let (requested, (_, text)) = read.await.map_err(|e| ToolError::Failed {
                message: format!("the file read stopped: {e}"),
                retryable: true,
            })??;
            Ok(ToolOutput::from_value(
                json!({"path": requested, "bytes": text.len(), "content": text}),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, ReadFile) {
        let root = tempfile::tempdir().unwrap();
        let allowed = root.path().join("allowed");
        std::fs::create_dir_all(allowed.join("sub")).unwrap();
        std::fs::write(allowed.join("notes.txt"), "hello notes").unwrap();
        std::fs::write(allowed.join("sub/deep.txt"), "deep").unwrap();
        std::fs::write(root.path().join("secret.txt"), "secret").unwrap();
        std::fs::write(allowed.join("binary.bin"), [0xff, 0xfe, 0x00]).unwrap();
        std::fs::write(allowed.join("big.txt"), "x".repeat(2048)).unwrap();
        let tool = ReadFile::new(&[allowed], 1024).unwrap();
        (root, tool)
    }

    #[test]
    fn files_inside_the_folder_are_read() {
        let (_root, t) = setup();
        assert_eq!(t.read("notes.txt").unwrap().1, "hello notes");
        assert_eq!(t.read("sub/deep.txt").unwrap().1, "deep");
        assert_eq!(t.read("./sub/../notes.txt").unwrap_err().status(), "PERMISSION_DENIED");
    }

    #[test]
    fn dot_dot_and_absolute_escapes_are_refused() {
        let (root, t) = setup();
        let e = t.read("../secret.txt").unwrap_err();
        assert_eq!(e.status(), "PERMISSION_DENIED", "{e}");
        let abs = root.path().join("secret.txt");
        let e = t.read(abs.to_str().unwrap()).unwrap_err();
        assert_eq!(e.status(), "PERMISSION_DENIED", "{e}");
        assert_eq!(t.read("/etc/passwd").unwrap_err().status(), "PERMISSION_DENIED");
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_out_of_the_folder_are_refused() {
        let (root, t) = setup();
        let allowed = root.path().join("allowed");
        std::os::unix::fs::symlink(root.path().join("secret.txt"), allowed.join("link.txt")).unwrap();
        std::os::unix::fs::symlink(root.path(), allowed.join("up")).unwrap();
        assert_eq!(t.read("link.txt").unwrap_err().status(), "PERMISSION_DENIED");
        assert_eq!(t.read("up/secret.txt").unwrap_err().status(), "PERMISSION_DENIED");
        // a symlink that stays inside is fine
        std::os::unix::fs::symlink(allowed.join("notes.txt"), allowed.join("inner.txt")).unwrap();
        assert_eq!(t.read("inner.txt").unwrap().1, "hello notes");
    }

    #[test]
    fn folders_big_files_binary_and_missing_files_are_clear_errors() {
        let (_root, t) = setup();
        assert_eq!(t.read("sub").unwrap_err().status(), "INVALID_ARGUMENT");
        assert_eq!(t.read("big.txt").unwrap_err().status(), "RESOURCE_EXHAUSTED");
        assert!(t.read("binary.bin").unwrap_err().to_string().contains("not UTF-8"));
        assert_eq!(t.read("nope.txt").unwrap_err().status(), "NOT_FOUND");
        assert_eq!(t.read("").unwrap_err().status(), "INVALID_ARGUMENT");
    }

    #[test]
    fn the_allowed_folder_must_exist() {
        assert!(ReadFile::new(&[PathBuf::from("/definitely/not/here")], 10).is_err());
        assert!(ReadFile::new(&[], 10).is_err());
    }
}
