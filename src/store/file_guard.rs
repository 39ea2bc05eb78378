//! Named mechanism: the SQLite database file's identity. SQLite keeps writing to a file whose
//! directory was deleted (the open descriptor outlives the name), acknowledging writes that
//! vanish at the next start. Every write batch and readiness check first makes sure the path
//! still names the file that was opened (same device and inode); otherwise it fails, and the
//! server reports itself not ready.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::domain::store::StoreError;

#[derive(Debug)]
pub struct FileGuard {
    path: PathBuf,
    identity: (u64, u64),
}

#[derive(Debug, thiserror::Error)]
#[error("the SQLite database file {0} was removed or replaced since it was opened")]
struct Gone(String);

impl FileGuard {
    /// The guard of a `sqlite:` URL's file; `None` for an in-memory database.
    pub fn of_url(url: &str) -> Option<Self> {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() || path.starts_with(":memory:") {
            return None;
        }
        let path = std::fs::canonicalize(Path::new(path)).ok()?;
        let identity = identity(&path)?;
        Some(Self { path, identity })
    }

    /// `Ok` while the path still names the file that was opened.
    pub fn check(&self) -> Result<(), StoreError> {
        if identity(&self.path) == Some(self.identity) {
            Ok(())
        } else {
            Err(StoreError::Backend(Arc::new(Gone(
                self.path.display().to_string(),
            ))))
        }
    }
}

#[cfg(unix)]
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(path: &Path) -> Option<(u64, u64)> {
    // Without inodes, only the path's existence is checked.
    std::fs::metadata(path).ok().map(|_| (0, 0))
}

#[cfg(test)]
mod tests {
    use super::FileGuard;

    #[test]
    fn a_deleted_or_replaced_file_fails_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        std::fs::write(&db, b"one").unwrap();
        // Held open as the database's connections hold it, so its inode is not reused.
        let _open = std::fs::File::open(&db).unwrap();
        let guard = FileGuard::of_url(&format!("sqlite://{}?mode=rwc", db.display())).unwrap();
        assert!(guard.check().is_ok());
        std::fs::remove_file(&db).unwrap();
        assert!(guard.check().is_err());
        // A new file at the same path is not the one that was opened.
        std::fs::write(&db, b"two").unwrap();
        assert!(guard.check().is_err());
        assert!(FileGuard::of_url("sqlite::memory:").is_none());
    }
}
