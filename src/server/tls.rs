//! wss for the embedded server: a generated self-signed END-ENTITY certificate (CA:FALSE, SANs localhost,
//! 127.0.0.1 and ::1; rustls refuses a CA certificate used as a server certificate) and the rustls acceptor.
//! The crypto provider is ring, named explicitly, so nothing depends on a process-wide default.

use std::sync::Arc;

use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::ServerError;

/// A certificate and its private key. Clone is cheap.
#[derive(Clone)]
pub struct TlsIdentity {
    inner: Arc<Identity>,
}

struct Identity {
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl TlsIdentity {
    /// Generates a fresh self-signed end-entity certificate for localhost, 127.0.0.1 and ::1.
    pub fn generate() -> Result<Self, ServerError> {
        let tls = |e: rcgen::Error| ServerError::Tls(e.to_string());
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
        let mut params = CertificateParams::new(names).map_err(tls)?;
        params.is_ca = IsCa::ExplicitNoCa;
        // A unique subject per certificate: OpenSSL finds a self-signed certificate's issuer by subject name,
        // so two servers' certificates in one trust bundle must not share a name.
        let unique: u64 = rand::random();
        params.distinguished_name.push(
            DnType::CommonName,
            format!("voxlive embedded Live server {unique:016x}"),
        );
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().map_err(tls)?;
        let cert = params.self_signed(&key).map_err(tls)?;
        Ok(TlsIdentity {
            inner: Arc::new(Identity {
                cert_pem: cert.pem(),
                cert_der: cert.der().clone(),
                key_der: key.serialize_der(),
            }),
        })
    }

    /// The certificate in PEM, for SSL_CERT_FILE or a client's root store.
    pub fn cert_pem(&self) -> &str {
        &self.inner.cert_pem
    }

    /// The certificate in DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.inner.cert_der
    }

    /// A rustls acceptor (ring provider, TLS 1.2 and 1.3, no client auth) serving this certificate.
    pub fn acceptor(&self) -> Result<tokio_rustls::TlsAcceptor, ServerError> {
        let tls = |e: rustls::Error| ServerError::Tls(e.to_string());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.inner.key_der.clone()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls)?
            .with_no_client_auth()
            .with_single_cert(vec![self.inner.cert_der.clone()], key)
            .map_err(tls)?;
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsIdentity(self-signed, localhost)")
    }
}
