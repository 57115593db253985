//! Sealing secrets at rest: XChaCha20-Poly1305 with a random 24-byte nonce per value and the
//! owner's identifier as associated data (a sealed value moved to another row does not open).

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use zeroize::Zeroizing;

const NONCE_LEN: usize = 24;

pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer([key redacted])")
    }
}

impl Sealer {
    /// A sealer with a fresh random key that lives only in this process (for ephemeral state).
    pub fn ephemeral() -> Sealer {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        Sealer::from_key(&key)
    }

    fn from_key(key: &[u8; 32]) -> Sealer {
        Sealer {
            cipher: XChaCha20Poly1305::new(Key::from_slice(key)),
        }
    }

    /// Loads the 32-byte key file, creating it (mode 0600) when missing.
    pub fn from_key_file(path: &Path) -> anyhow::Result<Sealer> {
        match std::fs::read(path) {
            Ok(bytes) => {
                // A key readable by others is no secret: narrow it (with a warning).
                if let Err(e) = crate::private_fs::narrow(path) {
                    tracing::warn!(file = %path.display(), error = %e, "the key file is readable by others and could not be narrowed to 0600");
                }
                let bytes = Zeroizing::new(bytes);
                let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                    anyhow::anyhow!("key file {} must hold exactly 32 bytes", path.display())
                })?;
                let key = Zeroizing::new(key);
                Ok(Sealer::from_key(&key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = Zeroizing::new([0u8; 32]);
                rand::rngs::OsRng.fill_bytes(key.as_mut());
                if let Some(parent) = path.parent() {
                    crate::private_fs::create_private_dir(parent)
                        .with_context(|| format!("creating {}", parent.display()))?;
                }
                let mut file = open_private(path)
                    .with_context(|| format!("creating key file {}", path.display()))?;
                file.write_all(key.as_ref())?;
                file.sync_all()?;
                Ok(Sealer::from_key(&key))
            }
            Err(e) => Err(e).with_context(|| format!("reading key file {}", path.display())),
        }
    }

    pub fn seal(&self, owner: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self.cipher.encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: owner,
            },
        );
        let mut out = nonce.to_vec();
        // Encryption with a valid key and nonce cannot fail for in-memory buffers of this size.
        out.extend(sealed.unwrap_or_default());
        out
    }

    pub fn open(&self, owner: &[u8], sealed: &[u8]) -> anyhow::Result<Zeroizing<Vec<u8>>> {
        if sealed.len() < NONCE_LEN + 16 {
            bail!("sealed value too short");
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: owner,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| anyhow::anyhow!("sealed value does not open with this key"))
    }
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_owner_binding() {
        let sealer = Sealer::ephemeral();
        let sealed = sealer.seal(b"row-1", b"p\xc3\xa4ss\"word");
        assert!(!sealed.windows(4).any(|w| w == b"ss\"w"));
        assert_eq!(
            sealer.open(b"row-1", &sealed).unwrap().as_slice(),
            b"p\xc3\xa4ss\"word"
        );
        assert!(sealer.open(b"row-2", &sealed).is_err());
        assert!(Sealer::ephemeral().open(b"row-1", &sealed).is_err());
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/secret.key");
        let first = Sealer::from_key_file(&path).unwrap();
        let sealed = first.seal(b"x", b"secret");
        let second = Sealer::from_key_file(&path).unwrap();
        assert_eq!(second.open(b"x", &sealed).unwrap().as_slice(), b"secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(
                mode(&dir.path().join("keys")),
                0o700,
                "the created directory"
            );
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            Sealer::from_key_file(&path).unwrap();
            assert_eq!(mode(&path), 0o600, "a key readable by others is narrowed");
        }
        std::fs::write(&path, b"short").unwrap();
        assert!(Sealer::from_key_file(&path).is_err());
    }
}
