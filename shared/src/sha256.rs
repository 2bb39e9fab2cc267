//! The one SHA-256 helper: every hash a person compares across the air gap
//! (proposals, bundles, archives, roots, transcript entries) is lower-case hex
//! of SHA-256 over the exact bytes, computed here so both sides agree.

use sha2::{Digest, Sha256};

/// Lower-case hex SHA-256 of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    ::hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_answer() {
        assert_eq!(
            super::hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
