//! Aircall's OAuth 2.0 authorization-code flow, as its example partner app uses it:
//! the admin is sent to `{dashboard}/oauth/authorize`, and the code it brings back is
//! exchanged at `POST {api}/v1/oauth/token` for a permanent access token.

use super::{AircallError, Credentials};
use crate::ports::{Fetch, FetchError, HttpRequest};
use serde::Deserialize;
use serde_json::json;

/// The URL the admin's browser is sent to.
pub fn authorize_url(oauth_base: &str, client_id: &str, redirect_uri: &str, state: &str) -> String {
    let mut url = url::Url::parse(&format!("{oauth_base}/oauth/authorize"))
        .expect("the OAuth base is a checked URL");
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("scope", "public_api")
        .append_pair("state", state);
    url.into()
}

/// Exchanges an authorization code for credentials. Not taken from an account's budget:
/// the account is not known before the token is.
pub async fn exchange_code<P: Fetch>(
    p: &P,
    api_base: &str,
    client_id: &str,
    client_secret: &str,
    code: &str,
    redirect_uri: &str,
) -> Result<Credentials, AircallError> {
    let request = HttpRequest::new("POST", format!("{api_base}/v1/oauth/token")).json(&json!({
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        "client_secret": client_secret,
    }));
    token_request(p, request).await
}

/// Trades a refresh token for new credentials (Aircall issues none today; kept for when
/// it does).
pub async fn refresh<P: Fetch>(
    p: &P,
    api_base: &str,
    client_id: &str,
    client_secret: &str,
    refresh_token: &str,
) -> Result<Credentials, AircallError> {
    let request = HttpRequest::new("POST", format!("{api_base}/v1/oauth/token")).json(&json!({
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": client_id,
        "client_secret": client_secret,
    }));
    token_request(p, request).await
}

async fn token_request<P: Fetch>(p: &P, request: HttpRequest) -> Result<Credentials, AircallError> {
    let response = p.fetch(request).await.map_err(|e| match e {
        FetchError::Timeout(_) | FetchError::Network(_) => AircallError::Unreachable(e.to_string()),
    })?;
    match response.status {
        200..=299 => {}
        // An unknown, used or expired code, or a wrong client: the grant is refused.
        400 | 401 | 403 => {
            return Err(AircallError::Rejected {
                status: response.status,
                message: String::from_utf8_lossy(&response.body)
                    .chars()
                    .take(200)
                    .collect(),
            })
        }
        status => {
            return Err(AircallError::Failed {
                status,
                message: String::from_utf8_lossy(&response.body)
                    .chars()
                    .take(200)
                    .collect(),
            })
        }
    }
    #[derive(Deserialize)]
    struct Answer {
        access_token: String,
        #[serde(default)]
        refresh_token: Option<String>,
    }
    let answer: Answer =
        serde_json::from_slice(&response.body).map_err(|_| AircallError::Failed {
            status: response.status,
            message: "the token answer has no access_token".into(),
        })?;
    if answer.access_token.is_empty() {
        return Err(AircallError::Failed {
            status: response.status,
            message: "the token answer has an empty access_token".into(),
        });
    }
    Ok(Credentials::Bearer {
        access_token: answer.access_token,
        refresh_token: answer.refresh_token.filter(|t| !t.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{answer, run, MemoryPlatform};

    #[test]
    fn builds_the_authorize_url_with_every_parameter_encoded() {
        let url = authorize_url(
            "https://dashboard.aircall.io",
            "client 1",
            "https://c.example/oauth/aircall/callback",
            "n.1.sig",
        );
        assert_eq!(
            url,
            "https://dashboard.aircall.io/oauth/authorize?client_id=client+1&redirect_uri=\
             https%3A%2F%2Fc.example%2Foauth%2Faircall%2Fcallback&response_type=code\
             &scope=public_api&state=n.1.sig"
        );
    }

    #[test]
    fn exchanges_a_code_for_a_bearer_token() {
        let p = MemoryPlatform::default();
        p.respond(|_| {
            Ok(answer(
                200,
                &[],
                r#"{"access_token":"tok","token_type":"Bearer"}"#,
            ))
        });
        let credentials = run(exchange_code(
            &p,
            "https://aircall.test",
            "id",
            "secret",
            "code",
            "https://r",
        ))
        .unwrap();
        assert_eq!(
            credentials,
            Credentials::Bearer {
                access_token: "tok".into(),
                refresh_token: None
            }
        );
        let request = p.requests.borrow()[0].clone();
        assert_eq!(request.url, "https://aircall.test/v1/oauth/token");
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["grant_type"], "authorization_code");
        assert_eq!(body["client_secret"], "secret");

        p.respond(|_| Ok(answer(400, &[], r#"{"error":"invalid_grant"}"#)));
        assert_eq!(
            run(exchange_code(
                &p,
                "https://aircall.test",
                "id",
                "s",
                "used",
                "https://r"
            )),
            Err(AircallError::Rejected {
                status: 400,
                message: r#"{"error":"invalid_grant"}"#.into()
            })
        );
    }
}
