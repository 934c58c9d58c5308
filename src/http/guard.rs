//! Browser safety in front of every route: a web page the developer happens
//! to open must not be able to steer or read this server.
//!
//! - `Host` must name this server as a browser reaches it directly: an IP
//!   address, `localhost` (or a name under `.localhost`), or a name given
//!   with `--http-allow-host`. A page on `attacker.example` whose DNS later
//!   points at 127.0.0.1 (DNS rebinding) sends `Host: attacker.example` and
//!   is refused. Inside the container, bound to every interface, any Host is
//!   accepted: other services reach it by their own names, and the port
//!   mapping decides who can connect.
//! - State-changing methods (POST, PUT, DELETE, PATCH) carrying an
//!   `Origin` must come from this server's own origin or one given with
//!   `--http-cors`. Browsers send `Origin` with every such request, simple
//!   or not, so a cross-site form or `fetch` is refused before it touches
//!   anything; clients that are not browsers send no `Origin` and are let
//!   through.
//! - CORS headers are sent, and preflights answered, only for the origins
//!   `--http-cors` names.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// Which Host names and Origins the HTTP server accepts besides its own.
#[derive(Clone, Debug, Default)]
pub(crate) struct Guard {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Lower-case names from `--http-allow-host`.
    hosts: Vec<String>,
    /// Normalised origins from `--http-cors`.
    cors: Vec<String>,
    /// Any Host is accepted (bound to every interface in a container, or
    /// `--http-allow-host '*'`).
    any_host: bool,
}

impl Guard {
    /// The guard for a server bound on `bound`: `hosts` and `cors` are what
    /// `--http-allow-host` and `--http-cors` gave (checked by
    /// [`parse_origin`] and [`parse_host`]).
    pub(crate) fn new(bound: SocketAddr, hosts: &[String], cors: &[String]) -> Self {
        let any_host = hosts.iter().any(|h| h == "*")
            || (bound.ip().is_unspecified() && super::in_container());
        Self {
            inner: Arc::new(Inner {
                hosts: hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
                cors: cors.iter().map(|o| normalise_origin(o)).collect(),
                any_host,
            }),
        }
    }

    fn host_allowed(&self, host: &str) -> bool {
        if self.inner.any_host {
            return true;
        }
        let name = host_name(host);
        // A browser that sends an IP literal was pointed at that address
        // itself: rebinding needs a name the attacker controls.
        if name.parse::<IpAddr>().is_ok() {
            return true;
        }
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        name == "localhost" || name.ends_with(".localhost") || self.inner.hosts.contains(&name)
    }

    fn cors_allowed(&self, origin: &str) -> bool {
        self.inner
            .cors
            .iter()
            .any(|o| *o == normalise_origin(origin))
    }
}

/// `--http-cors ORIGIN`: `http://` or `https://`, a host, an optional
/// port, nothing else.
pub(crate) fn parse_origin(s: &str) -> Result<String, String> {
    let normal = normalise_origin(s);
    let rest = normal
        .strip_prefix("http://")
        .or_else(|| normal.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', '@', ' ']) => Ok(normal),
        _ => Err(format!(
            "`{s}` is not an origin; give scheme, host and port as a browser sends them, e.g. http://localhost:3000"
        )),
    }
}

/// `--http-allow-host NAME`: a host name without port, or `*` for any.
pub(crate) fn parse_host(s: &str) -> Result<String, String> {
    let name = s.trim();
    if name == "*"
        || (!name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    {
        Ok(name.to_ascii_lowercase())
    } else {
        Err(format!(
            "`{s}` is not a host name; give the name browsers use, without port, e.g. mailfault.internal (or * for any)"
        ))
    }
}

fn normalise_origin(s: &str) -> String {
    s.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// The name part of a Host header value: `[::1]:8025` -> `::1`,
/// `localhost:8025` -> `localhost`.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// The Host the request was sent to: the header, or an HTTP/2 authority.
fn request_host(request: &Request) -> Option<String> {
    request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()))
}

fn changes_state(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

pub(super) async fn check(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let host = request_host(&request);
    if let Some(host) = &host
        && !guard.host_allowed(host)
    {
        let name = host_name(host);
        tracing::info!(host = %host, path = %request.uri().path(), "refused an HTTP request for a foreign Host (add --http-allow-host to allow it)");
        return ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "this server does not answer to the host name `{name}` (protection against DNS rebinding); reach it as localhost or by IP address, or start it with --http-allow-host {name}"
            ),
        )
        .into_response();
    }
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_owned);
    let Some(origin) = origin else {
        return next.run(request).await;
    };
    let cors = guard.cors_allowed(&origin);
    if cors
        && request.method() == Method::OPTIONS
        && let Some(method) = request.headers().get(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return preflight(&origin, method, request.headers());
    }
    let own = host
        .as_deref()
        .is_some_and(|h| normalise_origin(&origin) == format!("http://{}", h.to_ascii_lowercase()));
    if changes_state(request.method()) && !own && !cors {
        let method = request.method().clone();
        tracing::info!(%origin, %method, path = %request.uri().path(), "refused a cross-origin request (add --http-cors to allow it)");
        return ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "cross-origin {method} refused: a web page on {origin} may not change this server; clients that are not browsers send no Origin header, and a page you trust can be allowed with --http-cors {origin}"
            ),
        )
        .into_response();
    }
    let mut response = next.run(request).await;
    if cors {
        add_cors(response.headers_mut(), &origin);
    }
    response
}

fn add_cors(headers: &mut HeaderMap, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

fn preflight(origin: &str, method: &HeaderValue, asked: &HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    add_cors(headers, origin);
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, method.clone());
    if let Some(requested) = asked.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
    }
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(hosts: &[&str]) -> Guard {
        let hosts: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
        Guard::new(
            "127.0.0.1:8025".parse().unwrap(),
            &hosts,
            &["http://localhost:3000/".to_owned()],
        )
    }

    #[test]
    fn accepts_loopback_names_and_addresses_only() {
        let g = guard(&["mailfault"]);
        for ok in [
            "localhost:8025",
            "LOCALHOST",
            "app.localhost:1",
            "127.0.0.1:8025",
            "[::1]:8025",
            "10.0.0.5",
            "mailfault:8025",
        ] {
            assert!(g.host_allowed(ok), "{ok}");
        }
        for no in [
            "evil.test",
            "evil.test:8025",
            "localhost.evil.test",
            "mailfault.evil",
        ] {
            assert!(!g.host_allowed(no), "{no}");
        }
        assert!(guard(&["*"]).host_allowed("evil.test"));
    }

    #[test]
    fn compares_origins_normalised() {
        let g = guard(&[]);
        assert!(g.cors_allowed("http://LOCALHOST:3000"));
        assert!(!g.cors_allowed("http://localhost:3001"));
        assert_eq!(
            parse_origin("https://app.test:8443/").unwrap(),
            "https://app.test:8443"
        );
        assert!(parse_origin("app.test").is_err());
        assert!(parse_origin("http://app.test/path").is_err());
        assert!(parse_host("mail.internal").is_ok());
        assert!(parse_host("a b").is_err());
    }
}
