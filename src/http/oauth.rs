//! The OAuth 2.0 install, for an admin's browser:
//!
//! 1. `GET /oauth/aircall/install`: a page with a form asking for the admin token (a browser
//!    following a link cannot send a bearer header, and the token must never be in a URL).
//! 2. `POST /oauth/aircall/install` (form field `admin_token`): checks it, sets a
//!    `__Host-` cookie holding a random nonce (Secure, HttpOnly, SameSite=Lax, 10 minutes)
//!    and answers `303` to Aircall's authorize URL with a `state` that signs that nonce and
//!    the time (see `crypto::StateSigner`).
//! 3. `GET /oauth/aircall/callback?code&state`: refuses a missing, forged or expired state,
//!    one from another browser (no matching cookie) and one already used (claimed once in
//!    `ACCOUNT_GATE`, strongly consistent); then exchanges the code, and creates the
//!    integration inactive, awaiting its destination.
//!
//! Errors are pages, or JSON for `Accept: application/json`.

use super::{escape_html, ApiError, Request, Response};
use crate::aircall::{oauth, AircallError};
use crate::calls::ImportRules;
use crate::config::{Config, OAuthConfig};
use crate::crypto::{secrets_match, STATE_TTL_SECONDS};
use crate::integration::{Actor, NewIntegration};
use crate::ports::Platform;
use serde_json::json;

/// Holds the install's nonce in the admin's browser.
pub const COOKIE: &str = "__Host-aircall_oauth";
/// The `ACCOUNT_GATE` object that remembers used states.
const GATE: &str = "oauth";

pub async fn route<P: Platform>(
    p: &P,
    config: &Config,
    method: &str,
    step: &str,
    request: &Request,
) -> Response {
    let result = match (method, step) {
        ("GET", "install") => install_page(config),
        ("POST", "install") => start(p, config, request).await,
        ("GET", "callback") => callback(p, config, request).await,
        (_, "install" | "callback") => Err(ApiError::MethodNotAllowed),
        _ => Err(ApiError::NotFound("no such route")),
    };
    match result {
        Ok(response) => response,
        Err(error) if request.wants_json() => error.into_response(p),
        Err(error) => error.into_page(p),
    }
}

fn app(config: &Config) -> Result<&OAuthConfig, ApiError> {
    config.oauth.as_ref().ok_or(ApiError::OAuthNotConfigured)
}

fn redirect_uri(config: &Config) -> String {
    format!("{}/oauth/aircall/callback", config.public_base_url)
}

/// The origin of Aircall's authorize page, where the install form's answer redirects (so a
/// page posting that form must allow it in its CSP `form-action`); `None` while OAuth is off.
fn authorize_origin(config: &Config) -> Option<String> {
    let app = config.oauth.as_ref()?;
    url::Url::parse(&app.authorize_base)
        .ok()
        .map(|u| u.origin().ascii_serialization())
}

fn install_page(config: &Config) -> Result<Response, ApiError> {
    app(config)?;
    let aircall = authorize_origin(config).unwrap_or_default();
    let body = "<p>Connect an Aircall account: Aircall asks you to approve the connector, then \
        sends you back here, and the integration is created, inactive until you give it a \
        destination.</p>\
        <form method=\"post\" action=\"/oauth/aircall/install\">\
        <p><label>Admin token <input type=\"password\" name=\"admin_token\" \
        autocomplete=\"current-password\" required></label></p>\
        <p><button>Continue to Aircall</button></p></form>";
    // The form's answer redirects to Aircall: form-action must allow it.
    Ok(Response::html(
        200,
        "Install on Aircall",
        body,
        &format!("'self' {aircall}"),
    ))
}

async fn start<P: Platform>(
    p: &P,
    config: &Config,
    request: &Request,
) -> Result<Response, ApiError> {
    let app = app(config)?;
    if request.body.len() > super::MAX_BODY_BYTES {
        return Err(ApiError::TooLarge);
    }
    let from_form = url::form_urlencoded::parse(&request.body)
        .find(|(name, _)| name == "admin_token")
        .map(|(_, value)| value.into_owned());
    match from_form {
        Some(token) => super::admin::check_token(p, config, request, &token).await?,
        None => super::admin::authorize(p, config, request).await?,
    }
    let (state, nonce) = config.oauth_state.issue(p.now_seconds());
    let location = oauth::authorize_url(
        &app.authorize_base,
        &app.client_id,
        &redirect_uri(config),
        &state,
    );
    // The dashboard asks for JSON and navigates itself: its static CSP allows forms to post
    // to this origin only, and a browser applies `form-action` to the redirect as well.
    let answer = if request.wants_json() {
        Response::json(200, &serde_json::json!({ "authorize_url": location }))
    } else {
        Response::redirect(&location)
    };
    Ok(answer.with_header(
        "set-cookie",
        format!(
            "{COOKIE}={nonce}; Path=/; Max-Age={STATE_TTL_SECONDS}; Secure; HttpOnly; SameSite=Lax"
        ),
    ))
}

async fn callback<P: Platform>(
    p: &P,
    config: &Config,
    request: &Request,
) -> Result<Response, ApiError> {
    let app = app(config)?;
    if let Some(error) = request.query("error") {
        let description = request.query("error_description").unwrap_or("");
        let text: String = format!("{error} {description}").chars().take(200).collect();
        return Err(ApiError::OAuthDenied(text.trim().to_string()));
    }
    let now = p.now_seconds();
    let nonce = config
        .oauth_state
        .verify(request.query("state").unwrap_or(""), now)?;
    let cookie = request
        .cookie(COOKIE)
        .ok_or(ApiError::OAuthNotThisBrowser)?;
    if !secrets_match(cookie, &nonce) {
        return Err(ApiError::OAuthNotThisBrowser);
    }
    let until_ms = (now + STATE_TTL_SECONDS + 60) * 1000;
    if !p.claim(GATE, &format!("state:{nonce}"), until_ms).await? {
        return Err(ApiError::OAuthReplayed);
    }
    let code = request
        .query("code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::BadRequest("Aircall's answer has no code".into()))?;
    let credentials = oauth::exchange_code(
        p,
        &config.aircall_api_base,
        &app.client_id,
        &app.client_secret,
        code,
        &redirect_uri(config),
    )
    .await
    .map_err(|e| match e {
        AircallError::Rejected { .. } => ApiError::OAuthCodeRejected,
        e => ApiError::Aircall(e),
    })?;
    let new = NewIntegration {
        name: format!(
            "Aircall (OAuth install {})",
            &crate::time::rfc3339(now as i64)[..10]
        ),
        credentials,
        destination: None,
        events: None,
        import: ImportRules::default(),
        numbers: None,
        contact_sync: None,
    };
    let created = crate::lifecycle::create_as(p, config, new, Actor::Oauth).await?;
    let id = &created.integration.id;
    let next = format!(
        "Give it a destination with PATCH /api/integrations/{id} \
         ({{\"destination\": {{\"type\": \"webhook\", \"url\": \"https://...\"}}}}), then \
         POST /api/integrations/{id}/activate."
    );
    let clear_cookie = format!("{COOKIE}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax");
    let response = if request.wants_json() {
        let mut view = json!(created.integration.view(&config.public_base_url));
        view["notice"] = json!(format!(
            "Aircall is connected; the integration is inactive. {next}"
        ));
        Response::json(201, &view)
    } else {
        let body = format!(
            "<p>Integration <code>{}</code> (“{}”) is created. It is inactive until it has a \
             destination.</p><p>{}</p>",
            escape_html(id),
            escape_html(&created.integration.name),
            escape_html(&next)
        );
        Response::html(201, "Aircall is connected", &body, "'none'")
    };
    Ok(response.with_header("set-cookie", clear_cookie))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::StateSigner;
    use crate::integration::{Cause, Integrations, Status};
    use crate::ports::Clock;
    use crate::testing::{answer, config, run, MemoryPlatform};

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn oauth_config() -> Config {
        let mut c = config();
        c.oauth = Some(OAuthConfig {
            client_id: "client-1".into(),
            client_secret: "client-secret".into(),
            authorize_base: "https://dashboard.aircall.test".into(),
        });
        c
    }

    fn get(path_and_query: &str, cookie: Option<&str>) -> Request {
        let url = url::Url::parse(&format!("https://connector.test{path_and_query}")).unwrap();
        let mut headers = vec![("accept".to_string(), "application/json".to_string())];
        if let Some(c) = cookie {
            headers.push(("cookie".into(), format!("other=1; {COOKIE}={c}")));
        }
        Request {
            method: "GET".into(),
            path: url.path().into(),
            query: url.query_pairs().into_owned().collect(),
            headers,
            body: Vec::new(),
        }
    }

    fn aircall_ok(p: &MemoryPlatform) {
        p.respond(|r| match (r.method, r.url.as_str()) {
            ("POST", "https://aircall.test/v1/oauth/token") => Ok(answer(
                200,
                &[],
                r#"{"access_token":"tok-1","token_type":"Bearer"}"#,
            )),
            ("GET", "https://aircall.test/v1/ping") => Ok(answer(200, &[], r#"{"ping":"pong"}"#)),
            ("POST", "https://aircall.test/v1/webhooks") => Ok(answer(
                201,
                &[],
                r#"{"webhook":{"webhook_id":"wh-9","token":"t"}}"#,
            )),
            _ => Ok(answer(404, &[], "")),
        });
    }

    fn code_of(response: &Response) -> String {
        let v: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        v["error"]["code"].as_str().unwrap_or("").to_string()
    }

    #[test]
    fn not_configured_is_a_clear_501() {
        let p = MemoryPlatform::default();
        let r = run(route(
            &p,
            &config(),
            "GET",
            "install",
            &get("/oauth/aircall/install", None),
        ));
        assert_eq!(
            (r.status, code_of(&r).as_str()),
            (501, "oauth_not_configured")
        );
    }

    #[test]
    fn a_good_callback_creates_an_inactive_integration_once() {
        let p = MemoryPlatform::default();
        aircall_ok(&p);
        let c = oauth_config();
        let (state, nonce) = StateSigner::new(KEY).unwrap().issue(p.now_seconds());
        let path = format!("/oauth/aircall/callback?code=abc&state={state}");
        // Another browser (no cookie, or another nonce) is refused, and does not use it up.
        let r = run(route(&p, &c, "GET", "callback", &get(&path, None)));
        assert_eq!(code_of(&r), "oauth_state_invalid");
        let r = run(route(&p, &c, "GET", "callback", &get(&path, Some("0123"))));
        assert_eq!(code_of(&r), "oauth_state_invalid");

        let r = run(route(&p, &c, "GET", "callback", &get(&path, Some(&nonce))));
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let stored = run(Integrations::new(&p).get(v["id"].as_str().unwrap()))
            .unwrap()
            .unwrap();
        assert_eq!(stored.status, Status::Inactive);
        assert_eq!(
            stored.deactivation.unwrap().cause,
            Cause::AwaitingDestination
        );
        assert!(stored.destination.is_none());

        let again = run(route(&p, &c, "GET", "callback", &get(&path, Some(&nonce))));
        assert_eq!(code_of(&again), "oauth_state_used");
    }

    #[test]
    fn the_install_form_needs_the_admin_token_and_redirects_with_a_cookie() {
        let p = MemoryPlatform::default();
        let c = oauth_config();
        let post = |token: &str| Request {
            method: "POST".into(),
            path: "/oauth/aircall/install".into(),
            query: vec![],
            headers: vec![],
            body: format!("admin_token={token}").into_bytes(),
        };
        let r = run(route(
            &p,
            &c,
            "POST",
            "install",
            &post("wrong-token-xxxxxxxxx"),
        ));
        assert_eq!(r.status, 401);
        let r = run(route(&p, &c, "POST", "install", &post(&c.admin_token)));
        assert_eq!(r.status, 303);
        let header = |n: &str| r.headers.iter().find(|(k, _)| k == n).unwrap().1.clone();
        let location = header("location");
        assert!(location
            .starts_with("https://dashboard.aircall.test/oauth/authorize?client_id=client-1"));
        assert!(!location.contains(&c.admin_token));
        let cookie = header("set-cookie");
        assert!(cookie.starts_with(&format!("{COOKIE}=")), "{cookie}");
        assert!(cookie.contains("Secure; HttpOnly; SameSite=Lax"));
    }

    #[test]
    fn the_dashboard_gets_the_authorize_url_as_json_with_the_same_cookie() {
        let p = MemoryPlatform::default();
        let c = oauth_config();
        let request = |token: &str| Request {
            method: "POST".into(),
            path: "/oauth/aircall/install".into(),
            query: vec![],
            headers: vec![
                ("authorization".into(), format!("Bearer {token}")),
                ("accept".into(), "application/json".into()),
            ],
            body: vec![],
        };
        let refused = run(route(
            &p,
            &c,
            "POST",
            "install",
            &request("wrong-token-xxxxxxxxx"),
        ));
        assert_eq!(refused.status, 401);
        assert!(!refused.headers.iter().any(|(k, _)| k == "set-cookie"));
        let r = run(route(&p, &c, "POST", "install", &request(&c.admin_token)));
        assert_eq!(r.status, 200);
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let url = body["authorize_url"].as_str().unwrap();
        assert!(
            url.starts_with("https://dashboard.aircall.test/oauth/authorize?client_id=client-1")
        );
        assert!(!url.contains(&c.admin_token));
        assert!(r
            .headers
            .iter()
            .any(|(k, v)| k == "set-cookie" && v.starts_with(&format!("{COOKIE}="))));
    }
}
