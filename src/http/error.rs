//! The one place where errors become HTTP answers: `{"error": {"code", "message"}}`.

use super::Response;
use crate::aircall::AircallError;
use crate::cards::NewContactError;
use crate::config::ConfigError;
use crate::crypto::StateError;
use crate::import::ImportError;
use crate::infra::InfraError;
use crate::ingress::IngressError;
use crate::integration::FieldError;
use crate::lifecycle::{CreateError, LifecycleError};
use crate::numbers::NumbersError;
use crate::ports::Log;
use serde_json::json;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ApiError {
    #[error("a valid admin token is required (Authorization: Bearer <ADMIN_TOKEN>)")]
    Unauthorized,
    #[error("too many wrong admin tokens: try again in {retry_after_seconds} s")]
    TooManyAttempts { retry_after_seconds: u64 },
    #[error("{0}")]
    NotFound(&'static str),
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    #[error("the body is larger than 1 MiB")]
    TooLarge,
    #[error("the body is not valid JSON: {0}")]
    BadJson(String),
    #[error("some fields are invalid")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(&'static str),
    /// Our storage or queue failed; trying again later will do.
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    #[error("this link is not valid: ask for a new one")]
    BadLink,
    #[error("this link has expired: ask for a new one")]
    ExpiredLink,
    #[error(transparent)]
    Ingress(#[from] IngressError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Aircall(#[from] AircallError),
    #[error("the server is misconfigured: {0}")]
    Misconfigured(ConfigError),
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    #[error(
        "the OAuth install is not configured: set AIRCALL_OAUTH_CLIENT_ID (var) and \
         AIRCALL_OAUTH_CLIENT_SECRET (secret)"
    )]
    OAuthNotConfigured,
    #[error("{0}")]
    OAuthState(#[from] StateError),
    #[error("this install was started in another browser, or its cookie is gone: start it again")]
    OAuthNotThisBrowser,
    #[error("this state was already used: start the install again")]
    OAuthReplayed,
    #[error("Aircall did not authorize the install: {0}")]
    OAuthDenied(String),
    #[error(
        "Aircall refused the authorization code (a code works once, for 10 minutes): start the \
         install again"
    )]
    OAuthCodeRejected,
    #[error(transparent)]
    NewContact(#[from] NewContactError),
    #[error(transparent)]
    Infra(#[from] InfraError),
}

crate::infra::carries_infra!(ApiError);

impl From<CreateError> for ApiError {
    fn from(e: CreateError) -> Self {
        match e {
            CreateError::Aircall(e) => ApiError::Aircall(e),
            CreateError::Infra(e) => ApiError::Infra(e),
        }
    }
}

impl From<NumbersError> for ApiError {
    fn from(e: NumbersError) -> Self {
        match e {
            NumbersError::UnknownIntegration => ApiError::NotFound("no integration has this id"),
            NumbersError::CredentialsRejected => ApiError::Conflict(
                "Aircall rejected this integration's credentials: give new ones (PATCH), then \
                 activate it",
            ),
            NumbersError::Aircall(e) => ApiError::Aircall(e),
            NumbersError::Infra(e) => ApiError::Infra(e),
        }
    }
}

impl ApiError {
    /// The connector's own failure inside this error, wherever it is carried.
    fn infra(&self) -> Option<&InfraError> {
        match self {
            ApiError::Infra(e)
            | ApiError::Import(ImportError::Infra(e))
            | ApiError::Ingress(IngressError::Infra(e))
            | ApiError::Lifecycle(LifecycleError::Infra(e)) => Some(e),
            _ => None,
        }
    }

    fn aircall_status(e: &AircallError) -> (u16, &'static str) {
        match e {
            AircallError::Rejected { .. } => (422, "aircall_credentials_rejected"),
            AircallError::RateLimited { .. } => (503, "aircall_rate_limited"),
            AircallError::Budget(_) => (503, "unavailable"),
            AircallError::Unreachable(_) | AircallError::Failed { .. } => {
                (502, "aircall_unavailable")
            }
        }
    }

    /// The same answer as a small HTML page, for routes an admin's browser follows.
    pub fn into_page(self, log: &impl Log) -> Response {
        let (status, code) = self.status_and_code();
        if status >= 500 {
            log.log(&format!("{code}: {self}"));
        }
        let message = self.public_message(status);
        Response::page(status, "The Aircall install did not complete", &message)
    }

    fn status_and_code(&self) -> (u16, &'static str) {
        match self.infra() {
            // A secret sealed with another key is not the caller's to fix, nor passing.
            Some(InfraError::Seal(_)) => return (500, "internal"),
            Some(_) => return (503, "unavailable"),
            None => {}
        }
        match self {
            ApiError::Unauthorized => (401, "unauthorized"),
            ApiError::TooManyAttempts { .. } => (429, "too_many_attempts"),
            ApiError::NotFound(_) => (404, "not_found"),
            ApiError::MethodNotAllowed => (405, "method_not_allowed"),
            ApiError::TooLarge => (413, "payload_too_large"),
            ApiError::BadJson(_) => (400, "invalid_json"),
            ApiError::Invalid(_) => (400, "invalid_fields"),
            ApiError::BadRequest(_) => (400, "bad_request"),
            ApiError::Conflict(_) => (409, "conflict"),
            ApiError::Unavailable(_) => (503, "unavailable"),
            ApiError::BadLink => (403, "invalid_link"),
            ApiError::ExpiredLink => (403, "link_expired"),
            ApiError::Import(e) => match e {
                ImportError::UnknownIntegration => (404, "not_found"),
                ImportError::Infra(_) => unreachable!("answered above"),
            },
            ApiError::Ingress(e) => match e {
                IngressError::UnknownIntegration => (404, "unknown_integration"),
                IngressError::TooLarge => (413, "payload_too_large"),
                IngressError::Malformed(_) => (400, "invalid_webhook"),
                IngressError::WrongToken => (401, "invalid_webhook_token"),
                IngressError::Infra(_) => unreachable!("answered above"),
            },
            ApiError::Aircall(e) => ApiError::aircall_status(e),
            ApiError::Misconfigured(_) => (500, "misconfigured"),
            ApiError::Lifecycle(e) => match e {
                LifecycleError::NotFound => (404, "not_found"),
                LifecycleError::Refused(_) => (409, "conflict"),
                LifecycleError::StillRejected { .. } => (422, "aircall_credentials_rejected"),
                LifecycleError::Invalid(_) => (400, "invalid_fields"),
                LifecycleError::Aircall(e) => ApiError::aircall_status(e),
                LifecycleError::Infra(_) => unreachable!("answered above"),
            },
            ApiError::OAuthNotConfigured => (501, "oauth_not_configured"),
            ApiError::OAuthState(StateError::Expired) => (400, "oauth_state_expired"),
            ApiError::OAuthState(_) => (400, "oauth_state_invalid"),
            ApiError::OAuthNotThisBrowser => (400, "oauth_state_invalid"),
            ApiError::OAuthReplayed => (400, "oauth_state_used"),
            ApiError::OAuthDenied(_) => (400, "oauth_denied"),
            ApiError::OAuthCodeRejected => (400, "oauth_code_rejected"),
            ApiError::NewContact(e) => match e {
                NewContactError::BadLink => (403, "invalid_link"),
                NewContactError::Expired => (403, "link_expired"),
                NewContactError::Unknown => (404, "not_found"),
                NewContactError::Crm(_) => (502, "crm_unavailable"),
                NewContactError::Store(_) => (503, "unavailable"),
                NewContactError::Sealed => (500, "internal"),
            },
            ApiError::Infra(_) => unreachable!("answered above"),
        }
    }

    /// The answer. Internal details go to the log, not to the caller.
    pub fn into_response(self, log: &impl Log) -> Response {
        let (status, code) = self.status_and_code();
        if status >= 500 {
            log.log(&format!("{code}: {self}"));
        }
        let mut error = json!({"code": code, "message": self.public_message(status)});
        if let ApiError::Invalid(fields) | ApiError::Lifecycle(LifecycleError::Invalid(fields)) =
            &self
        {
            error["fields"] = json!(fields);
        }
        let mut response = Response::json(status, &json!({ "error": error }));
        match &self {
            ApiError::Unauthorized => response
                .headers
                .push(("www-authenticate".into(), "Bearer".into())),
            ApiError::Aircall(AircallError::RateLimited {
                retry_after_seconds,
            })
            | ApiError::Lifecycle(LifecycleError::Aircall(AircallError::RateLimited {
                retry_after_seconds,
            }))
            | ApiError::TooManyAttempts {
                retry_after_seconds,
            } => response
                .headers
                .push(("retry-after".into(), retry_after_seconds.to_string())),
            _ => {}
        }
        response
    }

    fn public_message(&self, status: u16) -> String {
        match self {
            ApiError::Aircall(AircallError::Rejected { status, .. })
            | ApiError::Lifecycle(LifecycleError::Aircall(AircallError::Rejected {
                status, ..
            })) => {
                format!(
                "Aircall rejected the credentials (HTTP {status}): check the API ID and API token, \
                 and that the key's user is an administrator"
            )
            }
            ApiError::Misconfigured(_) => self.to_string(),
            _ if status == 500 => "internal error".to_string(),
            _ if self.infra().is_some() => "storage or queue is unavailable; try again".to_string(),
            ApiError::Aircall(AircallError::Budget(_))
            | ApiError::Lifecycle(LifecycleError::Aircall(AircallError::Budget(_))) => {
                "storage or queue is unavailable; try again".to_string()
            }
            _ => self.to_string(),
        }
    }
}
