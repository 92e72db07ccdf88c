//! The dashboard's static assets (dashboard/, served by Workers Static Assets): what the
//! browser gets must load nothing from elsewhere and keep the admin token out of reach.

const PAGE: &str = include_str!("../dashboard/index.html");
const SCRIPT: &str = include_str!("../dashboard/app.js");
/// The settings forms, loaded before app.js (whose helpers they call).
const FORMS: &str = include_str!("../dashboard/forms.js");
const HEADERS: &str = include_str!("../dashboard/_headers");

#[test]
fn the_page_loads_its_own_script_and_style_and_nothing_inline() {
    assert!(
        PAGE.contains("<script src=\"/app.js\" defer></script>"),
        "{PAGE}"
    );
    assert!(
        PAGE.contains(
            "<script src=\"/forms.js\" defer></script>\n<script src=\"/app.js\" defer></script>"
        ),
        "the forms first: app.js's first render uses them"
    );
    assert!(
        PAGE.contains("<link rel=\"stylesheet\" href=\"/app.css\">"),
        "{PAGE}"
    );
    assert!(
        !PAGE.contains("http://") && !PAGE.contains("https://"),
        "no external URL"
    );
    assert!(
        !PAGE.contains("<script>") && !PAGE.contains("style="),
        "nothing inline"
    );
}

#[test]
fn every_asset_gets_the_strict_policy() {
    let lines: Vec<&str> = HEADERS
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .collect();
    assert_eq!(lines[0], "/*", "one rule for every asset");
    let policy = lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("Content-Security-Policy: "))
        .expect("a CSP");
    assert!(policy.starts_with("default-src 'none'; script-src 'self'; style-src 'self';"));
    for part in [
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(policy.contains(part), "{part}");
    }
    assert!(lines.contains(&"  X-Content-Type-Options: nosniff"));
    assert!(lines.contains(&"  Referrer-Policy: no-referrer"));
}

#[test]
fn the_script_keeps_the_token_in_the_session_and_sends_it_only_as_a_bearer() {
    assert!(SCRIPT.contains("sessionStorage"));
    assert!(!SCRIPT.contains("localStorage"));
    assert!(SCRIPT.contains("Bearer "));
    // The one absolute URL is SVG's namespace, which names and loads nothing.
    let script = SCRIPT.replace("\"http://www.w3.org/2000/svg\"", "") + FORMS;
    for external in ["http://", "https://", "//cdn", "eval(", "innerHTML"] {
        assert!(!script.contains(external), "{external}");
    }
}

/// The event log's page is a script of its own, loaded before app.js (whose helpers it uses).
#[test]
fn the_event_log_script_loads_first_and_writes_no_html() {
    const EVENTS: &str = include_str!("../dashboard/events.js");
    let first = PAGE.find("<script src=\"/events.js\" defer></script>");
    let app = PAGE.find("<script src=\"/app.js\" defer></script>");
    assert!(first.is_some() && first < app, "{PAGE}");
    for forbidden in ["http://", "https://", "eval(", "innerHTML", "localStorage"] {
        assert!(!EVENTS.contains(forbidden), "{forbidden}");
    }
}
