//! The outbound HTTP client (webhook deliveries, JWKS fetches), and URLs fit for logs.

use axum::body::Bytes;
use axum::http::Uri;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

pub type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The HTTP client for outbound requests: http or https (rustls, Mozilla's root
/// certificates), HTTP/1.1, no redirects followed (a 3xx is a failed attempt, and an
/// event never goes to a host that was not configured).
pub fn http_client() -> Result<HttpClient, String> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| format!("cannot set up TLS for outbound requests: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// A URL for logs: no user info, no query (either may carry credentials).
pub fn redact(url: &str) -> String {
    let Ok(u) = Uri::try_from(url) else { return "(invalid URL)".into() };
    let (Some(scheme), Some(host)) = (u.scheme_str(), u.host()) else { return "(invalid URL)".into() };
    let port = u.port_u16().map(|p| format!(":{p}")).unwrap_or_default();
    format!("{scheme}://{host}{port}{}", u.path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_logs_lose_credentials() {
        assert_eq!(redact("https://user:pw@hooks.test:8443/in?token=abc"), "https://hooks.test:8443/in");
        assert_eq!(redact("http://h.test"), "http://h.test/");
        assert_eq!(redact("nope"), "(invalid URL)");
    }
}
