//! Where saved sessions live: one `NAME.json` per session in `<data dir>/voxlive/sessions` (or
//! `$VOXLIVE_DATA_DIR/sessions`). Names are checked before they touch a path; files are written to a
//! hidden `.NAME.json.part` beside the target, synced and renamed over it, so a crash or Ctrl-C leaves the
//! previous whole file, never half of one.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::record::{SavedSession, MAX_FILE_BYTES};
use super::SavedError;

/// Overrides the data directory (tests, portable installs).
pub const DATA_DIR_ENV: &str = "VOXLIVE_DATA_DIR";
/// The longest session name.
pub const MAX_NAME_LEN: usize = 64;
/// At most this many files are looked at when listing (a directory of millions is not ours).
pub const MAX_LISTED: usize = 10_000;

/// Checks a session name: 1 to [`MAX_NAME_LEN`] of letters, digits, `.`, `_` and `-`, not starting with a
/// dot (so no path separators, `..` or hidden files).
pub fn check_name(name: &str) -> Result<(), SavedError> {
    let bad = |why: &str| {
        Err(SavedError::BadName {
            name: name.chars().take(MAX_NAME_LEN + 8).collect(),
            why: why.to_string(),
        })
    };
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return bad(&format!("give 1 to {MAX_NAME_LEN} characters"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return bad("use only letters, digits, '.', '_' and '-' (no path separators)");
    }
    if name.starts_with('.') || name.contains("..") {
        return bad("it may not start with '.' or contain '..'");
    }
    Ok(())
}

/// The directory of saved sessions.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// One line of `voxlive sessions list`: a readable session, or a file that is not.
#[derive(Debug)]
pub enum Listed {
    Ok(SavedSession),
    Corrupt { name: String, error: SavedError },
}

impl Store {
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Store { dir: dir.into() }
    }

    /// `$VOXLIVE_DATA_DIR/sessions`, else `<user data dir>/voxlive/sessions`.
    pub fn open_default() -> Result<Self, SavedError> {
        if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
            return Ok(Store::at(PathBuf::from(dir).join("sessions")));
        }
        let base = dirs::data_dir().ok_or(SavedError::NoDataDir)?;
        Ok(Store::at(base.join("voxlive").join("sessions")))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self, name: &str) -> Result<PathBuf, SavedError> {
        check_name(name)?;
        Ok(self.dir.join(format!("{name}.json")))
    }

    pub fn exists(&self, name: &str) -> Result<bool, SavedError> {
        Ok(self.path(name)?.exists())
    }

    /// Reads and checks one session; a missing file is [`SavedError::NotFound`], a bad one
    /// [`SavedError::Corrupt`] naming the file.
    pub fn load(&self, name: &str) -> Result<SavedSession, SavedError> {
        let path = self.path(name)?;
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(SavedError::NotFound(name.into())),
            Err(source) => return Err(SavedError::Io { path, source }),
        };
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| SavedError::Io {
                path: path.clone(),
                source,
            })?;
        let corrupt = |detail: String| SavedError::Corrupt {
            path: path.clone(),
            detail,
        };
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(corrupt(format!("larger than {MAX_FILE_BYTES} bytes")));
        }
        let session: SavedSession = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        session.validate(name).map_err(corrupt)?;
        Ok(session)
    }

    /// Writes `session` atomically: `.NAME.json.part`, fsync, rename, fsync of the directory.
    pub fn save(&self, session: &SavedSession) -> Result<(), SavedError> {
        let path = self.path(&session.name)?;
        let part = self.dir.join(format!(".{}.json.part", session.name));
        let io = |source| SavedError::Io {
            path: path.clone(),
            source,
        };
        // the transcripts are the user's own: the directories voxlive creates are theirs alone
        let mut dirs = std::fs::DirBuilder::new();
        dirs.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut dirs, 0o700);
        dirs.create(&self.dir).map_err(io)?;
        let write = || -> std::io::Result<()> {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&part)?;
            file.write_all(session.to_json().as_bytes())?;
            file.sync_all()?;
            drop(file);
            std::fs::rename(&part, &path)?;
            // the rename itself survives a power cut only once the directory is synced
            if let Ok(dir) = std::fs::File::open(&self.dir) {
                let _ = dir.sync_all();
            }
            Ok(())
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&part);
            io(e)
        })
    }

    pub fn remove(&self, name: &str) -> Result<(), SavedError> {
        let path = self.path(name)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(SavedError::NotFound(name.into())),
            Err(source) => Err(SavedError::Io { path, source }),
        }
    }

    /// Every saved session, the most recently updated first; unreadable files are listed as such.
    pub fn list(&self) -> Result<Vec<Listed>, SavedError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(SavedError::Io {
                    path: self.dir.clone(),
                    source,
                })
            }
        };
        let mut out = Vec::new();
        for entry in entries.take(MAX_LISTED).flatten() {
            let file_name = entry.file_name();
            let Some(name) = file_name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if check_name(name).is_err() {
                continue;
            }
            match self.load(name) {
                Ok(s) => out.push(Listed::Ok(s)),
                Err(error) => out.push(Listed::Corrupt {
                    name: name.to_string(),
                    error,
                }),
            }
        }
        out.sort_by(|a, b| match (a, b) {
            (Listed::Ok(a), Listed::Ok(b)) => b.updated.cmp(&a.updated).then_with(|| a.name.cmp(&b.name)),
            (Listed::Ok(_), _) => std::cmp::Ordering::Less,
            (_, Listed::Ok(_)) => std::cmp::Ordering::Greater,
            (Listed::Corrupt { name: a, .. }, Listed::Corrupt { name: b, .. }) => a.cmp(b),
        });
        Ok(out)
    }

    /// The most recently updated readable session.
    pub fn latest(&self) -> Result<SavedSession, SavedError> {
        self.list()?
            .into_iter()
            .find_map(|l| match l {
                Listed::Ok(s) => Some(s),
                Listed::Corrupt { .. } => None,
            })
            .ok_or_else(|| SavedError::NoneSaved(self.dir.clone()))
    }

    /// A new name from the time (`20261202-071503`), with `-2`, `-3`, ... if it is taken.
    pub fn fresh_name(&self, now: time::OffsetDateTime) -> Result<String, SavedError> {
        let t = now.to_offset(time::UtcOffset::UTC);
        let base = format!(
            "{:04}{:02}{:02}-{:02}{:02}{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        for n in 1..1000 {
            let name = if n == 1 { base.clone() } else { format!("{base}-{n}") };
            if !self.exists(&name)? {
                return Ok(name);
            }
        }
        Err(SavedError::BadName {
            name: base,
            why: "too many sessions started in the same second".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_never_leave_the_directory() {
        for ok in ["a", "talk-1", "2026.12.02_x", &"n".repeat(MAX_NAME_LEN)] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "../x",
            "a/b",
            "a\\b",
            "..",
            ".hidden",
            "a..b",
            "sp ace",
            "é",
            &"n".repeat(65),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn saves_load_list_and_remove() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().join("sessions"));
        assert!(matches!(store.latest(), Err(SavedError::NoneSaved(_))));
        let now = time::OffsetDateTime::now_utc();
        let mut a = SavedSession::new("a", "m", now);
        a.push_turn(super::super::Role::User, "hi");
        store.save(&a).unwrap();
        let mut b = SavedSession::new("b", "m", now);
        b.updated = now + time::Duration::seconds(5);
        store.save(&b).unwrap();
        std::fs::write(store.dir().join("c.json"), "{ not json").unwrap();
        assert_eq!(store.load("a").unwrap(), a);
        assert_eq!(store.latest().unwrap().name, "b");
        let listed = store.list().unwrap();
        assert_eq!(listed.len(), 3);
        assert!(matches!(&listed[2], Listed::Corrupt { name, .. } if name == "c"));
        let err = store.load("c").unwrap_err().to_string();
        assert!(err.contains("c.json") && err.contains("corrupt"), "{err}");
        store.remove("a").unwrap();
        assert!(matches!(store.load("a"), Err(SavedError::NotFound(_))));
        assert!(matches!(store.remove("a"), Err(SavedError::NotFound(_))));
        let leftovers: Vec<_> = std::fs::read_dir(store.dir())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
            .collect();
        assert!(leftovers.is_empty());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(store.dir()), 0o700);
            assert_eq!(mode(&store.path("b").unwrap()), 0o600);
        }
    }

    #[test]
    fn a_write_cut_short_leaves_the_previous_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        let mut s = SavedSession::new("k", "m", time::OffsetDateTime::now_utc());
        s.push_turn(super::super::Role::User, "first");
        store.save(&s).unwrap();
        // what a crash between writing the temporary file and the rename leaves behind
        std::fs::write(
            dir.path().join(".k.json.part"),
            "{\"version\": 1, \"name\": \"k\", \"tur",
        )
        .unwrap();
        assert_eq!(store.load("k").unwrap(), s, "the target is untouched");
        assert_eq!(store.list().unwrap().len(), 1, "the temporary file is not a session");
        s.push_turn(super::super::Role::Model, "second");
        store.save(&s).unwrap();
        assert_eq!(
            store.load("k").unwrap().turns.len(),
            2,
            "the next save replaces the leftover"
        );
        assert!(!dir.path().join(".k.json.part").exists());
    }

    #[test]
    fn oversized_files_are_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        let f = std::fs::File::create(dir.path().join("big.json")).unwrap();
        f.set_len(MAX_FILE_BYTES + 10).unwrap();
        let err = store.load("big").unwrap_err().to_string();
        assert!(err.contains("larger than"), "{err}");
    }
}
