//! `--http-auth user:password`: HTTP basic authentication in front of every
//! route, for an API bound beyond loopback.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The one user the API lets in.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAuth {
    /// `Basic base64(user:password)`, compared as a whole.
    expected: String,
}

/// Debug output ends up in logs and error messages: never the password.
impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BasicAuth(****)")
    }
}

impl std::str::FromStr for BasicAuth {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            Some((user, password)) if !user.is_empty() && !password.is_empty() => Ok(Self {
                expected: format!("Basic {}", STANDARD.encode(s)),
            }),
            _ => Err("expected USER:PASSWORD, e.g. --http-auth admin:s3cret".into()),
        }
    }
}

/// Constant-time comparison, so the password cannot be guessed a byte at a
/// time from response timings.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(super) async fn require(
    State(auth): State<BasicAuth>,
    request: Request,
    next: Next,
) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes)
        .unwrap_or_default();
    if same(given, auth.expected.as_bytes()) {
        return next.run(request).await;
    }
    let mut response = (
        StatusCode::UNAUTHORIZED,
        axum::Json(serde_json::json!({
            "error": "authentication required: this server was started with --http-auth; send those credentials (curl -u user:password)"
        })),
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"mailfault\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_user_and_password() {
        let a: BasicAuth = "admin:s3:cret".parse().unwrap();
        assert_eq!(
            a.expected,
            format!("Basic {}", STANDARD.encode("admin:s3:cret"))
        );
        assert!("admin".parse::<BasicAuth>().is_err());
        assert!(":x".parse::<BasicAuth>().is_err());
        assert!("x:".parse::<BasicAuth>().is_err());
    }

    #[test]
    fn compares_whole_values() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
    }
}
