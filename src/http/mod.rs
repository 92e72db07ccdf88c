//! HTTP routes. The platform turns the runtime's request into a [`Request`] and our
//! [`Response`] back; everything between is plain Rust.

mod admin;
mod error;
mod oauth;

pub use error::ApiError;

use crate::config::{Config, ConfigError};
use crate::ingress::{self, Accepted};
use crate::ports::Platform;
use serde_json::{json, Value};

/// The platform stops reading a body past this many bytes; routes refuse more with 413.
pub const MAX_BODY_BYTES: usize = ingress::MAX_WEBHOOK_BYTES;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    /// At most `MAX_BODY_BYTES + 1` bytes: enough to tell that a body is too large.
    pub body: Vec<u8>,
}

impl Request {
    /// A `GET` of `path` with `query`, for tests.
    #[cfg(test)]
    pub fn get(path: &str, query: &[(&str, &str)]) -> Self {
        Self {
            method: "GET".into(),
            path: path.into(),
            query: query
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            headers: vec![],
            body: vec![],
        }
    }

    /// The same request with one more header, for tests.
    #[cfg(test)]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A cookie sent with the request.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.header("cookie")?
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// Whether the caller asked for JSON (`Accept: application/json`) rather than a page.
    pub fn wants_json(&self) -> bool {
        self.header("accept")
            .is_some_and(|a| a.contains("application/json"))
    }

    fn json_body(&self) -> Result<Value, ApiError> {
        if self.body.len() > MAX_BODY_BYTES {
            return Err(ApiError::TooLarge);
        }
        serde_json::from_slice(&self.body).map_err(|e| ApiError::BadJson(e.to_string()))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When set, the body is this archived object, streamed by the platform (`404` if gone).
    pub archived: Option<String>,
}

impl Response {
    pub fn json(status: u16, value: &Value) -> Self {
        Self {
            status,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("cache-control".into(), "no-store".into()),
            ],
            body: value.to_string().into_bytes(),
            archived: None,
        }
    }

    /// A small HTML page for the admin's browser (the OAuth install). Nothing on it loads
    /// from elsewhere, it cannot be framed, and no referrer leaves it (its URL may hold a code).
    pub fn page(status: u16, title: &str, message: &str) -> Self {
        Self::html(
            status,
            title,
            &format!("<p>{}</p>", escape_html(message)),
            "'none'",
        )
    }

    /// An HTML page around `body` (already escaped); `form_action` is its CSP form-action.
    pub fn html(status: u16, title: &str, body: &str, form_action: &str) -> Self {
        let html = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title>\
             <style>body{{font:16px system-ui,sans-serif;max-width:40em;margin:3em auto;\
             padding:0 1em}}code{{background:#eee;padding:0 .2em}}</style></head>\
             <body><h1>{title}</h1>{body}</body></html>",
            title = escape_html(title)
        );
        Self {
            status,
            headers: vec![
                ("content-type".into(), "text/html; charset=utf-8".into()),
                ("cache-control".into(), "no-store".into()),
                (
                    "content-security-policy".into(),
                    format!(
                        "default-src 'none'; style-src 'unsafe-inline'; form-action {form_action}; \
                         frame-ancestors 'none'; base-uri 'none'"
                    ),
                ),
                ("referrer-policy".into(), "no-referrer".into()),
                ("x-content-type-options".into(), "nosniff".into()),
            ],
            body: html.into_bytes(),
            archived: None,
        }
    }

    /// `303 See Other` to `location`.
    pub fn redirect(location: &str) -> Self {
        Self {
            status: 303,
            headers: vec![
                ("location".into(), location.into()),
                ("cache-control".into(), "no-store".into()),
                ("referrer-policy".into(), "no-referrer".into()),
            ],
            body: Vec::new(),
            archived: None,
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// `200` with the archived object `key` as the body.
    pub fn archived(key: String, content_type: &str) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type".into(), content_type.into())],
            body: Vec::new(),
            archived: Some(key),
        }
    }
}

pub async fn handle<P: Platform>(
    p: &P,
    config: &Result<Config, ConfigError>,
    request: Request,
) -> Response {
    match route(p, config, &request).await {
        Ok(response) => response,
        Err(error) => error.into_response(p),
    }
}

async fn route<P: Platform>(
    p: &P,
    config: &Result<Config, ConfigError>,
    request: &Request,
) -> Result<Response, ApiError> {
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    let method = request.method.as_str();
    if segments == ["healthz"] {
        return match config {
            Ok(_) => Ok(Response::json(200, &json!({"status": "ok"}))),
            Err(e) => Err(ApiError::Misconfigured(e.clone())),
        };
    }
    let config = config
        .as_ref()
        .map_err(|e| ApiError::Misconfigured(e.clone()))?;
    match (method, segments.as_slice()) {
        ("POST", ["webhooks", "aircall", id]) => {
            let answer = match ingress::receive(p, config, id, &request.body).await? {
                Accepted::Queued { delivery_id } => {
                    json!({"status": "queued", "delivery_id": delivery_id})
                }
                Accepted::Ignored { reason } => json!({"status": "ignored", "reason": reason}),
            };
            Ok(Response::json(202, &answer))
        }
        (_, ["webhooks", "aircall", _]) => Err(ApiError::MethodNotAllowed),
        ("GET", ["recordings", integration_id, call_id]) => {
            recording(p, config, integration_id, call_id, request)
        }
        (_, ["oauth", "aircall", step]) => Ok(oauth::route(p, config, method, step, request).await),
        (_, ["api", rest @ ..]) => {
            admin::authorize(p, config, request).await?;
            admin::route(p, config, method, rest, request).await
        }
        _ => Err(ApiError::NotFound("no such route")),
    }
}

/// `GET /recordings/{integration}/{call}.mp3?expires&signature`: an archived recording, for
/// whoever holds the signed link the call record carried (no admin token).
fn recording<P: Platform>(
    p: &P,
    config: &Config,
    integration_id: &str,
    call_id: &str,
    request: &Request,
) -> Result<Response, ApiError> {
    // Links end in `.mp3` (HubSpot plays only such links); those given before had no
    // suffix and stay good: the signature covers the path as given.
    let number = call_id.strip_suffix(".mp3").unwrap_or(call_id);
    let given = format!("/recordings/{integration_id}/{call_id}");
    let call_id: i64 = number.parse().map_err(|_| ApiError::BadLink)?;
    let expires: u64 = request
        .query("expires")
        .and_then(|v| v.parse().ok())
        .ok_or(ApiError::BadLink)?;
    let signature = request.query("signature").ok_or(ApiError::BadLink)?;
    let path = given;
    if !config.links.verify(&path, expires, signature) {
        return Err(ApiError::BadLink);
    }
    if p.now_seconds() > expires {
        return Err(ApiError::ExpiredLink);
    }
    let mut response = Response::archived(
        crate::import::recording_key(integration_id, call_id),
        "audio/mpeg",
    );
    response
        .headers
        .push(("cache-control".into(), "private, max-age=3600".into()));
    Ok(response)
}

/// Escapes text for HTML.
pub fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
