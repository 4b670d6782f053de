//! The sealed key ring file: created on first start, opened afterwards, rotated in
//! place. Writes go to a temporary file (mode 0600) renamed over the target, so a
//! crash never leaves a half-written ring.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use eid_core::token::{KeyEncryptionKey, KeyRing, KeyRingError, MAX_LEEWAY};
use time::{Duration, OffsetDateTime};

/// Why the key ring file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Reading or writing the file failed.
    #[error("key ring file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file could not be opened with this key-encryption key, or is not a key ring.
    #[error(
        "cannot open the key ring file {path} (is the key-encryption key the one it was \
         sealed with?)"
    )]
    Open {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: KeyRingError,
    },
    /// A key could not be generated or sealed.
    #[error("key ring")]
    Keys(#[from] KeyRingError),
}

/// Opens the ring in `path`, or generates, seals and writes a new one when there is no
/// file. Returns the ring and whether it was created.
pub fn open_or_create(
    path: &Path,
    kek: &KeyEncryptionKey,
) -> Result<(KeyRing, bool), KeyFileError> {
    match std::fs::read(path) {
        Ok(blob) => Ok((open_blob(path, &blob, kek)?, false)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let ring = KeyRing::generate()?;
            match write(path, &ring.seal(kek)?, false) {
                Ok(()) => Ok((ring, true)),
                // Another instance created it first: use theirs.
                Err(KeyFileError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::AlreadyExists =>
                {
                    open(path, kek).map(|ring| (ring, false))
                }
                Err(err) => Err(err),
            }
        }
        Err(source) => Err(io(path, source)),
    }
}

/// Opens the existing ring in `path`.
pub fn open(path: &Path, kek: &KeyEncryptionKey) -> Result<KeyRing, KeyFileError> {
    let blob = std::fs::read(path).map_err(|source| io(path, source))?;
    open_blob(path, &blob, kek)
}

/// Stages the key the next rotation activates and publishes it now (see
/// [`KeyRing::stage_next`]); a key staged already is kept. Returns the new ring.
pub fn stage(path: &Path, kek: &KeyEncryptionKey) -> Result<KeyRing, KeyFileError> {
    update(path, kek, |ring| ring.stage_next().map(drop))
}

/// Rotates the ring in `path`: the staged key (or a new one) signs, the previous one
/// stays published as retiring, and retiring keys older than `max_token_lifetime` plus
/// the verifiers' leeway are dropped. Returns the new ring.
pub fn rotate(
    path: &Path,
    kek: &KeyEncryptionKey,
    max_token_lifetime: Duration,
) -> Result<KeyRing, KeyFileError> {
    update(path, kek, |ring| {
        let now = OffsetDateTime::now_utc();
        ring.prune(now, max_token_lifetime + MAX_LEEWAY);
        ring.rotate(now)
    })
}

/// Opens the ring in `path`, applies `change` and writes it back atomically.
fn update(
    path: &Path,
    kek: &KeyEncryptionKey,
    change: impl FnOnce(&mut KeyRing) -> Result<(), KeyRingError>,
) -> Result<KeyRing, KeyFileError> {
    let mut ring = open(path, kek)?;
    change(&mut ring)?;
    write(path, &ring.seal(kek)?, true)?;
    Ok(ring)
}

fn open_blob(path: &Path, blob: &[u8], kek: &KeyEncryptionKey) -> Result<KeyRing, KeyFileError> {
    KeyRing::open(blob, kek).map_err(|source| KeyFileError::Open {
        path: path.to_owned(),
        source,
    })
}

fn io(path: &Path, source: std::io::Error) -> KeyFileError {
    KeyFileError::Io {
        path: path.to_owned(),
        source,
    }
}

fn write(path: &Path, blob: &[u8], replace: bool) -> Result<(), KeyFileError> {
    write_private(path, blob, replace).map_err(|e| io(path, e))
}

/// Writes `blob` to a 0600 temporary file beside `path`, syncs it and renames it to
/// `path` (refusing to replace an existing file unless `replace`): a crash never leaves a
/// half-written secret.
pub(crate) fn write_private(path: &Path, blob: &[u8], replace: bool) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(blob)?;
    temp.as_file().sync_all()?;
    let persisted = if replace {
        temp.persist(path)
    } else {
        temp.persist_noclobber(path)
    };
    persisted.map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek(byte: u8) -> KeyEncryptionKey {
        KeyEncryptionKey::from_slice(&[byte; 32]).unwrap()
    }

    #[test]
    fn creates_then_reopens_the_same_ring() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.sealed");
        let (first, created) = open_or_create(&path, &kek(1)).unwrap();
        assert!(created);
        let (again, created) = open_or_create(&path, &kek(1)).unwrap();
        assert!(!created);
        assert_eq!(first.active().kid(), again.active().kid());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_wrong_kek_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.sealed");
        open_or_create(&path, &kek(1)).unwrap();
        let err = open_or_create(&path, &kek(2)).unwrap_err();
        assert!(matches!(err, KeyFileError::Open { .. }), "{err}");
        assert!(err.to_string().contains("keys.sealed"), "{err}");
    }

    #[test]
    fn rotation_keeps_the_previous_key_published() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.sealed");
        let (first, _) = open_or_create(&path, &kek(1)).unwrap();
        let rotated = rotate(&path, &kek(1), Duration::minutes(5)).unwrap();
        assert_ne!(rotated.active().kid(), first.active().kid());
        let reopened = open(&path, &kek(1)).unwrap();
        assert_eq!(reopened.active().kid(), rotated.active().kid());
        let kids: Vec<_> = reopened.retiring().map(|k| k.kid().to_owned()).collect();
        assert_eq!(kids, [first.active().kid()]);
    }

    #[test]
    fn a_staged_key_is_published_then_activated_by_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.sealed");
        let (first, _) = open_or_create(&path, &kek(1)).unwrap();
        let staged = stage(&path, &kek(1)).unwrap();
        let next = staged.next().unwrap().kid().to_owned();
        assert_eq!(staged.active().kid(), first.active().kid());
        assert_eq!(stage(&path, &kek(1)).unwrap().next().unwrap().kid(), next);
        let rotated = rotate(&path, &kek(1), Duration::minutes(5)).unwrap();
        assert_eq!(rotated.active().kid(), next);
        assert!(rotated.next().is_none());
    }

    #[test]
    fn rotating_a_missing_file_fails() {
        let dir = tempfile::tempdir().unwrap();
        let err = rotate(&dir.path().join("none"), &kek(1), Duration::minutes(5)).unwrap_err();
        assert!(matches!(err, KeyFileError::Io { .. }), "{err}");
    }
}
