//! The admin dashboard at `/`: one HTML page, its script and its style sheet, compiled into the
//! worker. The page asks for the admin token and keeps it in the browser's session storage; it
//! then only calls the admin API (same origin, bearer header). Nothing loads from elsewhere.

use super::{ApiError, Request, Response};

const PAGE: &str = include_str!("dashboard/index.html");
const SCRIPT: &str = include_str!("dashboard/app.js");
const STYLE: &str = include_str!("dashboard/app.css");

/// Same origin only, no inline script or style, no framing; forms post here only, except that
/// the "Connect with Aircall" form's answer redirects to Aircall's authorize page.
fn policy(oauth_origin: Option<&str>) -> String {
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
         img-src 'self' data:; form-action 'self'{}; frame-ancestors 'none'; base-uri 'none'",
        oauth_origin.map(|o| format!(" {o}")).unwrap_or_default()
    )
}

/// An asset's version: FNV-1a of its text, so a new build gets new URLs and the old ones can be
/// cached for good.
const fn version(text: &str) -> u64 {
    let bytes = text.as_bytes();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

const SCRIPT_VERSION: u64 = version(SCRIPT);
const STYLE_VERSION: u64 = version(STYLE);

/// `GET /`, `/dashboard/app.js`, `/dashboard/app.css`; `None` for any other path.
/// `oauth_origin`: where the OAuth install redirects, `None` while the install is off.
pub fn route(
    method: &str,
    segments: &[&str],
    request: &Request,
    oauth_origin: Option<&str>,
) -> Option<Result<Response, ApiError>> {
    let (content_type, body, version) = match segments {
        [""] => {
            let page = PAGE
                .replace("{oauth}", if oauth_origin.is_some() { "on" } else { "off" })
                .replace(
                    "{script}",
                    &format!("/dashboard/app.js?v={SCRIPT_VERSION:016x}"),
                )
                .replace(
                    "{style}",
                    &format!("/dashboard/app.css?v={STYLE_VERSION:016x}"),
                );
            ("text/html; charset=utf-8", page, None)
        }
        ["dashboard", "app.js"] => (
            "text/javascript; charset=utf-8",
            SCRIPT.to_string(),
            Some(SCRIPT_VERSION),
        ),
        ["dashboard", "app.css"] => (
            "text/css; charset=utf-8",
            STYLE.to_string(),
            Some(STYLE_VERSION),
        ),
        _ => return None,
    };
    if method != "GET" && method != "HEAD" {
        return Some(Err(ApiError::MethodNotAllowed));
    }
    // The page itself is never cached (it names the assets' versions); an asset asked for by
    // its current version never changes.
    let current = version.is_some_and(|v| request.query("v") == Some(&format!("{v:016x}")));
    let cache = if current {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    Some(Ok(Response {
        status: 200,
        headers: vec![
            ("content-type".into(), content_type.into()),
            ("cache-control".into(), cache.into()),
            ("content-security-policy".into(), policy(oauth_origin)),
            ("referrer-policy".into(), "no-referrer".into()),
            ("x-content-type-options".into(), "nosniff".into()),
        ],
        body: if method == "HEAD" {
            Vec::new()
        } else {
            body.into_bytes()
        },
        archived: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, query: &[(&str, &str)]) -> Response {
        let request = Request::get(path, query);
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        route(
            "GET",
            &segments,
            &request,
            Some("https://dashboard.aircall.io"),
        )
        .expect("a dashboard path")
        .unwrap()
    }

    fn header<'a>(r: &'a Response, name: &str) -> &'a str {
        r.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    #[test]
    fn the_page_names_its_assets_by_version_and_loads_nothing_from_elsewhere() {
        let page = get("/", &[]);
        let html = String::from_utf8(page.body.clone()).unwrap();
        assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
        assert_eq!(header(&page, "cache-control"), "no-cache");
        let policy = header(&page, "content-security-policy");
        assert!(policy.starts_with("default-src 'none'; script-src 'self';"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(policy.contains("form-action 'self' https://dashboard.aircall.io;"));
        let script = format!("/dashboard/app.js?v={SCRIPT_VERSION:016x}");
        assert!(
            html.contains(&format!("<script src=\"{script}\" defer></script>")),
            "{html}"
        );
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "no external URL"
        );
        assert!(
            !html.contains("<script>") && !html.contains("style="),
            "nothing inline"
        );

        let js = get(
            "/dashboard/app.js",
            &[("v", &format!("{SCRIPT_VERSION:016x}"))],
        );
        assert_eq!(
            header(&js, "content-type"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            header(&js, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(js.body, SCRIPT.as_bytes());
        let stale = get("/dashboard/app.css", &[("v", "0")]);
        assert_eq!(header(&stale, "cache-control"), "no-cache");
    }

    #[test]
    fn the_script_keeps_the_token_in_the_session_and_sends_it_only_as_a_bearer() {
        assert!(SCRIPT.contains("sessionStorage"));
        assert!(!SCRIPT.contains("localStorage"));
        assert!(SCRIPT.contains("Bearer "));
        // The one absolute URL is SVG's namespace, which names and loads nothing.
        let script = SCRIPT.replace("\"http://www.w3.org/2000/svg\"", "");
        for external in ["http://", "https://", "//cdn", "eval(", "innerHTML"] {
            assert!(!script.contains(external), "{external}");
        }
    }
}
