//! Certificates and the rustls configuration: the only file that touches
//! rcgen and rustls.
//!
//! `--tls auto` makes a development CA and a server certificate signed by it
//! on first start and reuses them later, so a client trusts `certs/ca.pem`
//! once and keeps working. `--tls CERT,KEY` serves the user's own files.
//! Keys are written with mode 0600.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub(crate) use tokio_rustls::TlsAcceptor;
pub(crate) use tokio_rustls::server::TlsStream;

/// What went wrong while making or loading certificates.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot generate certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {why}; give PEM files as --tls CERT,KEY or use --tls auto")]
    Read { path: PathBuf, why: String },
    #[error("the certificate and key do not make a usable TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// The files of a development certificate set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CertFiles {
    pub(crate) fn in_dir(dir: &Path) -> Self {
        Self {
            ca: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
        }
    }

    fn exist(&self) -> bool {
        self.ca.is_file() && self.cert.is_file() && self.key.is_file()
    }
}

/// The names every development certificate covers, plus the extra ones.
pub(crate) fn default_hosts(extra: &[String]) -> Vec<String> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"]
        .into_iter()
        .map(String::from)
        .collect();
    for h in extra {
        if !hosts.iter().any(|x| x.eq_ignore_ascii_case(h)) {
            hosts.push(h.clone());
        }
    }
    hosts
}

/// Makes a new CA and a server certificate for `hosts` in `dir`, replacing
/// what is there. The CA key is kept beside it (`ca.key`, 0600) so more
/// certificates can be signed later.
pub(crate) fn generate(dir: &Path, hosts: &[String]) -> Result<CertFiles, TlsError> {
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(write_err(dir))?;

    let ca_key = KeyPair::generate()?;
    let ca_cert = ca_params()?.self_signed(&ca_key)?;
    let ca_key_pem = ca_key.serialize_pem();
    let issuer = Issuer::new(ca_params()?, ca_key);
    let leaf_key = KeyPair::generate()?;
    let leaf_cert = leaf_params(hosts)?.signed_by(&leaf_key, &issuer)?;

    let files = CertFiles::in_dir(dir);
    write_file(&files.ca, ca_cert.pem().as_bytes(), false).map_err(write_err(&files.ca))?;
    let ca_key_path = dir.join("ca.key");
    write_file(&ca_key_path, ca_key_pem.as_bytes(), true).map_err(write_err(&ca_key_path))?;
    write_file(&files.cert, leaf_cert.pem().as_bytes(), false).map_err(write_err(&files.cert))?;
    write_file(&files.key, leaf_key.serialize_pem().as_bytes(), true)
        .map_err(write_err(&files.key))?;
    Ok(files)
}

/// The development CA's parameters. Always the same, so the CA can be
/// rebuilt as an issuer from its saved key alone.
fn ca_params() -> Result<CertificateParams, rcgen::Error> {
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "mailfault development CA");
    ca.distinguished_name
        .push(DnType::OrganizationName, "mailfault");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(ca)
}

fn leaf_params(hosts: &[String]) -> Result<CertificateParams, rcgen::Error> {
    let mut leaf = CertificateParams::new(hosts.to_vec())?;
    let cn = hosts.last().map_or("localhost", String::as_str);
    leaf.distinguished_name.push(DnType::CommonName, cn);
    leaf.use_authority_key_identifier_extension = true;
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    Ok(leaf)
}

/// Reuses the certificates in `dir`, or makes them on first use.
pub(crate) fn auto(dir: &Path, hosts: &[String]) -> Result<CertFiles, TlsError> {
    let files = CertFiles::in_dir(dir);
    if files.exist() {
        return Ok(files);
    }
    generate(dir, hosts)
}

fn write_file(path: &Path, bytes: &[u8], secret: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// A TLS acceptor serving the certificate chain and key in these PEM files.
pub(crate) fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let read_err = |path: &Path| {
        let path = path.to_path_buf();
        move |e: rustls::pki_types::pem::Error| TlsError::Read {
            path,
            why: e.to_string(),
        }
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(read_err(cert))?
        .collect::<Result<_, _>>()
        .map_err(read_err(cert))?;
    if chain.is_empty() {
        return Err(TlsError::Read {
            path: cert.to_path_buf(),
            why: "no certificate in it".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(read_err(key))?;
    build_acceptor(chain, key, rustls::ALL_VERSIONS)
}

fn build_acceptor(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<TlsAcceptor, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// An acceptor for one freshly made certificate and its key.
fn serve_one(cert: &rcgen::Certificate, key: &KeyPair) -> Result<TlsAcceptor, TlsError> {
    let key = PrivateKeyDer::try_from(key.serialize_der())
        .map_err(|e| TlsError::Config(rustls::Error::General(e.into())))?;
    build_acceptor(vec![cert.der().clone()], key, rustls::ALL_VERSIONS)
}

/// The certificates `tls_fault:` serves instead of the good one: each makes a
/// verifying client refuse the handshake for one precise reason.
pub struct FaultAcceptors {
    /// Signed by the development CA, but valid only in 2020.
    pub expired: TlsAcceptor,
    /// Signed by the development CA for `wrong-host.invalid` only.
    pub wrong_host: TlsAcceptor,
    /// The right names, but signed by nobody (self-signed).
    pub self_signed: TlsAcceptor,
    /// The good certificate, TLS 1.2 only (a client requiring 1.3 fails).
    pub tls12_only: TlsAcceptor,
}

impl FaultAcceptors {
    /// Builds them in memory, signed with the CA key in `ca_key` when there
    /// is one (`--tls auto`), else with a throw-away CA (the client then also
    /// lacks the issuer, as it would for any unknown server).
    pub fn new(
        hosts: &[String],
        ca_key: Option<&Path>,
        good: (&Path, &Path),
    ) -> Result<Self, TlsError> {
        let ca_key = match ca_key.and_then(|p| std::fs::read_to_string(p).ok()) {
            Some(pem) => KeyPair::from_pem(&pem)?,
            None => KeyPair::generate()?,
        };
        let issuer = Issuer::new(ca_params()?, ca_key);
        let signed = |params: CertificateParams| -> Result<TlsAcceptor, TlsError> {
            let key = KeyPair::generate()?;
            let cert = params.signed_by(&key, &issuer)?;
            serve_one(&cert, &key)
        };
        let mut expired = leaf_params(hosts)?;
        expired.not_before = rcgen::date_time_ymd(2020, 1, 1);
        expired.not_after = rcgen::date_time_ymd(2020, 12, 31);
        let self_signed = {
            let key = KeyPair::generate()?;
            serve_one(&leaf_params(hosts)?.self_signed(&key)?, &key)?
        };
        let (cert, key) = good;
        let read = |path: &Path, e: rustls::pki_types::pem::Error| TlsError::Read {
            path: path.to_path_buf(),
            why: e.to_string(),
        };
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .map_err(|e| read(cert, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| read(cert, e))?;
        let good_key = PrivateKeyDer::from_pem_file(key).map_err(|e| read(key, e))?;
        Ok(Self {
            expired: signed(expired)?,
            wrong_host: signed(leaf_params(&["wrong-host.invalid".to_owned()])?)?,
            self_signed,
            tls12_only: build_acceptor(chain, good_key, &[&rustls::version::TLS12])?,
        })
    }
}

/// TLS version (`TLSv1.3`) and cipher suite of an established connection,
/// for the session's record and the captured message.
pub(crate) fn describe<IO>(stream: &TlsStream<IO>) -> (String, String) {
    let (_, conn) = stream.get_ref();
    let version = conn
        .protocol_version()
        .and_then(|v| v.as_str())
        .unwrap_or("TLS");
    let cipher = conn
        .negotiated_cipher_suite()
        .and_then(|c| c.suite().as_str())
        .unwrap_or("unknown cipher");
    (version.replace('_', "."), cipher.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_then_reuses_with_private_keys() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = default_hosts(&["mx.example.test".into()]);
        let first = auto(dir.path(), &hosts).unwrap();
        let pem = std::fs::read_to_string(&first.cert).unwrap();
        let again = auto(dir.path(), &hosts).unwrap();
        assert_eq!(first, again);
        assert_eq!(std::fs::read_to_string(&again.cert).unwrap(), pem, "reused");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&first.key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(acceptor(&first.cert, &first.key).is_ok());
    }

    #[test]
    fn unreadable_files_say_what_to_do() {
        let err = acceptor(Path::new("/nonexistent.pem"), Path::new("/nonexistent.key"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("/nonexistent.pem"), "{err}");
        assert!(err.contains("--tls auto"), "{err}");
    }
}
