//! The cluster key: every datagram of a live cluster carries an
//! HMAC-SHA256 tag under it, so a process without the key can neither
//! write to a node nor ask it anything. `dtm0 keygen FILE` writes a random
//! key readable by its owner only; the cluster file names it
//! (`key = "FILE"`, relative to the cluster file).
//!
//! A cluster file without a key is allowed on loopback only, for tests and
//! first steps: its datagrams carry a tag under a fixed public key (the
//! same format, no secret), which catches corruption but authenticates
//! nothing, and the nodes warn at start.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::Read;
use std::path::Path;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the tag at the end of every datagram.
pub const TAG: usize = 32;

/// Bytes of a key.
pub const KEY_LEN: usize = 32;

/// A MAC key, ready to tag and verify.
#[derive(Clone)]
pub struct Auth {
    mac: HmacSha256,
    /// The key came from a key file (false: the public keyless key).
    pub keyed: bool,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key itself.
        write!(f, "Auth {{ keyed: {} }}", self.keyed)
    }
}

impl Auth {
    pub fn from_key(key: &[u8; KEY_LEN]) -> Auth {
        Auth {
            mac: HmacSha256::new_from_slice(key).expect("HMAC takes any key length"),
            keyed: true,
        }
    }

    /// The public key of a keyless (loopback) cluster.
    pub fn keyless() -> Auth {
        let mut a = Auth::from_key(b"dtm0 keyless loopback cluster!!!");
        a.keyed = false;
        a
    }

    /// Reads a key file: 64 hex digits (what `keygen` writes), or 32 raw
    /// bytes. A file that others may read is refused, as ssh refuses a
    /// private key: the key is the cluster's only secret.
    pub fn load(path: &Path) -> Result<Auth, String> {
        use std::os::unix::fs::PermissionsExt;
        let what = || format!("key file {}", path.display());
        let meta = std::fs::metadata(path).map_err(|e| {
            format!(
                "{}: {e} (write one with `dtm0 keygen {}`)",
                what(),
                path.display()
            )
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "{}: readable by others (mode {mode:o}); `chmod 600` it",
                what()
            ));
        }
        let b = std::fs::read(path).map_err(|e| format!("{}: {e}", what()))?;
        let key = parse_key(&b).ok_or_else(|| {
            format!(
                "{}: not a key (64 hex digits or 32 bytes; `dtm0 keygen` writes one)",
                what()
            )
        })?;
        Ok(Auth::from_key(&key))
    }

    /// The tag of `data`.
    pub fn tag(&self, data: &[u8]) -> [u8; TAG] {
        let mut m = self.mac.clone();
        m.update(data);
        m.finalize().into_bytes().into()
    }

    /// Whether `tag` is `data`'s (in constant time).
    pub fn verify(&self, data: &[u8], tag: &[u8]) -> bool {
        let mut m = self.mac.clone();
        m.update(data);
        m.verify_slice(tag).is_ok()
    }
}

fn parse_key(b: &[u8]) -> Option<[u8; KEY_LEN]> {
    let text = std::str::from_utf8(b).ok().map(str::trim);
    let mut key = [0u8; KEY_LEN];
    match text {
        Some(t) if t.len() == 2 * KEY_LEN && t.bytes().all(|c| c.is_ascii_hexdigit()) => {
            for (i, k) in key.iter_mut().enumerate() {
                *k = u8::from_str_radix(&t[2 * i..2 * i + 2], 16).ok()?;
            }
            Some(key)
        }
        _ if b.len() == KEY_LEN => {
            key.copy_from_slice(b);
            Some(key)
        }
        _ => None,
    }
}

/// `n` bytes from the kernel's random source.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, String> {
    let mut b = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| format!("/dev/urandom: {e}"))?;
    Ok(b)
}

/// A random 64-bit nonce naming this process's boot (its session
/// streams): drawn once per process start.
pub fn boot_nonce() -> u64 {
    match random_bytes(8) {
        Ok(b) => u64::from_le_bytes(b.try_into().expect("8 bytes")),
        // No /dev/urandom: the clock and the pid still differ per boot.
        Err(_) => {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            t ^ ((std::process::id() as u64) << 32)
        }
    }
}

/// `dtm0 keygen`: writes a random key (64 hex digits and a newline) to
/// `path`, created with mode 0600; an existing file is kept unless
/// `force`.
pub fn keygen(path: &Path, force: bool) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let key = random_bytes(KEY_LEN)?;
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).mode(0o600);
    if force {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!(
                "{}: exists; keeping it (--force replaces it, and every node then needs the new key)",
                path.display()
            )
        } else {
            format!("{}: {e}", path.display())
        }
    })?;
    // An existing file replaced with --force keeps its old mode: set it.
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(format!("{hex}\n").as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn keygen_writes_an_owner_only_key_and_keeps_an_existing_one() {
        let dir = std::env::temp_dir().join(format!("dtm0-key-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("k");
        keygen(&f, false).unwrap();
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let first = std::fs::read(&f).unwrap();
        assert_eq!(first.len(), 65);
        let e = keygen(&f, false).unwrap_err();
        assert!(e.contains("exists"), "{e}");
        assert_eq!(std::fs::read(&f).unwrap(), first, "kept");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Auth::load(&f).unwrap_err();
        assert!(e.contains("readable by others"), "{e}");
        keygen(&f, true).unwrap();
        assert_ne!(std::fs::read(&f).unwrap(), first, "replaced");
        let a = Auth::load(&f).unwrap();
        assert!(a.keyed);
        // raw 32 bytes work too; anything else is refused
        std::fs::write(&f, [7u8; 32]).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(Auth::load(&f).is_ok());
        std::fs::write(&f, b"short").unwrap();
        assert!(Auth::load(&f).unwrap_err().contains("not a key"));
        assert!(Auth::load(&dir.join("none"))
            .unwrap_err()
            .contains("dtm0 keygen"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn tags_verify_under_their_key_only() {
        let a = Auth::from_key(&[1; 32]);
        let b = Auth::from_key(&[2; 32]);
        let t = a.tag(b"hello");
        assert!(a.verify(b"hello", &t));
        assert!(!a.verify(b"hellp", &t));
        assert!(!b.verify(b"hello", &t));
        assert!(!Auth::keyless().verify(b"hello", &t));
        assert!(!a.verify(b"hello", &t[..31]));
        assert_ne!(boot_nonce(), boot_nonce());
    }
}
