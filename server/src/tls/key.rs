//! The node's private key (`tls-key-file`): a PEM key as rustls reads it
//! (PKCS#8, PKCS#1 or SEC1), or an encrypted PKCS#8 key
//! (`-----BEGIN ENCRYPTED PRIVATE KEY-----`, PBES2 as `openssl pkcs8
//! -topk8 -v2 aes-256-cbc` writes it) decrypted with `tls-key-file-pass`
//! by RustCrypto's `pkcs8`. As with OpenSSL in Redis, a passphrase given
//! for a key that is not encrypted is not used.

use std::path::Path;

use pkcs8::der::Document;
use pkcs8::EncryptedPrivateKeyInfo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

const ENCRYPTED_BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
const ENCRYPTED_END: &str = "-----END ENCRYPTED PRIVATE KEY-----";

/// Reads the private key in `path`, decrypting it with `passphrase` if it
/// is an encrypted PKCS#8 key.
///
/// # Errors
/// The file cannot be read or holds no key; an encrypted key without a
/// passphrase, or one the passphrase does not decrypt.
pub fn read(path: &Path, passphrase: Option<&str>) -> Result<PrivateKeyDer<'static>, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read a private key from {shown}: {e}"))?;
    let Some(block) = encrypted_block(&text) else {
        return PrivateKeyDer::from_pem_slice(text.as_bytes())
            .map_err(|e| format!("cannot read a private key from {shown}: {e}"));
    };
    let Some(passphrase) = passphrase else {
        return Err(format!(
            "the private key in {shown} is encrypted: set tls-key-file-pass"
        ));
    };
    decrypt(block, passphrase).map_err(|why| format!("the private key in {shown}: {why}"))
}

/// The encrypted PKCS#8 block of `text`, if it has one (other text around
/// it, as `openssl` may write, is left out).
fn encrypted_block(text: &str) -> Option<&str> {
    let start = text.find(ENCRYPTED_BEGIN)?;
    let end = text[start..].find(ENCRYPTED_END)? + start + ENCRYPTED_END.len();
    Some(&text[start..end])
}

/// Decrypts an `ENCRYPTED PRIVATE KEY` PEM block.
///
/// # Errors
/// Not valid PEM or DER, an unsupported scheme, or the wrong passphrase.
pub fn decrypt(block: &str, passphrase: &str) -> Result<PrivateKeyDer<'static>, String> {
    let (_, document) =
        Document::from_pem(block).map_err(|e| format!("not a valid encrypted key: {e}"))?;
    let info = EncryptedPrivateKeyInfo::try_from(document.as_bytes())
        .map_err(|e| format!("not a valid encrypted key: {e}"))?;
    let plain = info
        .decrypt(passphrase)
        .map_err(|_| "tls-key-file-pass does not decrypt it (wrong passphrase?)".to_string())?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        plain.as_bytes().to_vec(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_encrypted_block_is_found_among_other_text() {
        let text = format!("Bag Attributes\n{ENCRYPTED_BEGIN}\nAAAA\n{ENCRYPTED_END}\ntrailer\n");
        let block = encrypted_block(&text).unwrap();
        assert!(block.starts_with(ENCRYPTED_BEGIN) && block.ends_with(ENCRYPTED_END));
        assert!(encrypted_block("-----BEGIN PRIVATE KEY-----\n").is_none());
        assert!(decrypt(block, "x")
            .unwrap_err()
            .contains("not a valid encrypted key"));
    }
}
