//! The web page: three static files compiled into the binary, so serving
//! it needs no build step, no network and no files beside the binary.

use axum::http::header;
use axum::response::IntoResponse;

const INDEX: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/app.js");
const STYLE: &str = include_str!("page/style.css");

pub(super) async fn index() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The page loads only its own script and style; message HTML is
            // shown in a sandboxed frame.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; frame-src 'self' about:; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
            ),
        ],
        INDEX,
    )
}

pub(super) async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
}

pub(super) async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}
