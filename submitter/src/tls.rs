//! Which certificate authorities the submitter trusts, as fioctl does: the
//! system's pool (`x509.SystemCertPool` there; here the same files, read by
//! rustls-native-certs, which honours `SSL_CERT_FILE` and `SSL_CERT_DIR`)
//! plus every certificate in the PEM file `CACERT` names. A system with no
//! readable pool falls back to the Mozilla roots built in (webpki-roots),
//! which is what the submitter trusted before, and says so.
//!
//!
//! fioctl only warns when `CACERT` holds no certificate; we refuse, since an
//! operator who names a CA file means it to be used.

use ceremony_cli::eprintln;
use std::path::Path;

use ureq::tls::{Certificate, PemItem, RootCerts};

/// The largest CA file read: a whole system bundle is about 200 KiB.
const MAX_PEM: u64 = 16 * 1024 * 1024;

/// The roots: the system's (or the built-in ones) and `CACERT`'s.
pub fn roots() -> Result<RootCerts, String> {
    let extra = match cacert_path() {
        Some(path) => read_pem(&path)?,
        None => Vec::new(),
    };
    Ok(assemble(system_roots(), extra))
}

/// The system's roots plus the extra ones. With no system roots and no
/// extra ones, the built-in Mozilla roots; with extra ones only, those alone
/// (as fioctl: an empty system pool plus `CACERT`).
fn assemble(system: Vec<Certificate<'static>>, extra: Vec<Certificate<'static>>) -> RootCerts {
    if system.is_empty() && extra.is_empty() {
        eprintln!(
            "note: no system CA certificates could be read; trusting the Mozilla roots built into the submitter"
        );
        return RootCerts::WebPki;
    }
    RootCerts::from(system.into_iter().chain(extra))
}

fn cacert_path() -> Option<std::path::PathBuf> {
    std::env::var_os("CACERT")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
}

fn system_roots() -> Vec<Certificate<'static>> {
    rustls_native_certs::load_native_certs()
        .certs
        .into_iter()
        .map(|der| Certificate::from_der(der.as_ref()).to_owned())
        .collect()
}

/// Every certificate in a PEM file; an error when it cannot be read, is not
/// PEM, or holds none.
pub fn read_pem(path: &Path) -> Result<Vec<Certificate<'static>>, String> {
    let what = format!("CACERT={}", path.display());
    let bytes = ceremony::fsio::read_bounded(path, MAX_PEM)
        .map_err(|e| format!("{what}: cannot read it: {e}"))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&bytes) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => return Err(format!("{what}: not a PEM file of certificates: {e}")),
        }
    }
    if certs.is_empty() {
        return Err(format!(
            "{what} holds no PEM certificate (-----BEGIN CERTIFICATE-----); name a CA file, or unset CACERT"
        ));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed CA certificate (public data only), made with
    /// `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256`; it also
    /// signed the HTTPS test server's certificate (`tests/cli.rs`).
    const TEST_CA: &str = include_str!("../tests/data/test-ca.pem");

    fn ders(r: &RootCerts) -> Vec<Vec<u8>> {
        match r {
            RootCerts::Specific(c) => c.iter().map(|c| c.der().to_vec()).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn cacert_is_added_to_the_system_pool() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, TEST_CA).unwrap();
        let extra = read_pem(&ca).unwrap();
        assert_eq!(extra.len(), 1);
        let system = system_roots();
        let all = ders(&assemble(system.clone(), extra.clone()));
        assert_eq!(all.len(), system.len() + 1);
        assert_eq!(all.last().unwrap(), &extra[0].der().to_vec());
        // No system pool: the CA file alone, as fioctl.
        assert_eq!(ders(&assemble(Vec::new(), extra.clone())).len(), 1);
        assert!(matches!(
            assemble(Vec::new(), Vec::new()),
            RootCerts::WebPki
        ));
    }

    #[test]
    fn a_cacert_that_is_not_a_ca_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let e = read_pem(&empty).unwrap_err();
        assert!(e.contains("holds no PEM certificate"), "{e}");
        let e = read_pem(&dir.path().join("missing.pem")).unwrap_err();
        assert!(e.contains("cannot read it"), "{e}");
    }
}
