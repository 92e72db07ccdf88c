//! The deployment's settings: secrets and vars from `wrangler.toml` / `.dev.vars`.

use crate::crypto::{LinkSigner, Sealer, StateSigner};
use crate::retry::RetryPolicy;
use thiserror::Error;

/// Aircall answers 400 when `page * per_page` passes this: split the window before.
pub const AIRCALL_RESULT_CAP: u64 = 10_000;

#[derive(Debug, Clone, Error, PartialEq)]
pub enum ConfigError {
    #[error("the {0} secret is not set")]
    Missing(&'static str),
    #[error("{0} is not valid: {1}")]
    Invalid(&'static str, String),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub admin_token: String,
    pub sealer: Sealer,
    /// Aircall's API, e.g. `https://api.aircall.io` (a local fake in tests).
    pub aircall_api_base: String,
    /// Where Aircall reaches this worker; webhook URLs are built from it.
    pub public_base_url: String,
    pub delivery_timeout_ms: u32,
    pub retry: RetryPolicy,
    /// Requests per minute the connector allows itself per Aircall account (Aircall
    /// documents 60 or 120 for the whole company).
    pub aircall_requests_per_minute: u32,
    /// Results Aircall pages through per query (10,000; scaled down in tests).
    pub aircall_result_cap: u64,
    /// Signs the links to archived recordings.
    pub links: LinkSigner,
    /// How long a link to an archived recording stays good.
    pub recording_link_seconds: u64,
    /// Where recording and voicemail links may point (`RECORDING_HOSTS`).
    pub recording_hosts: RecordingHosts,
    /// Segment's tracking API in the US and EU regions.
    pub segment_us_base: String,
    pub segment_eu_base: String,
    /// HubSpot's API, `https://api.hubapi.com`.
    pub hubspot_api_base: String,
    /// Requests per 10 s the connector allows itself per HubSpot token (HubSpot: 100 on
    /// Free/Starter, 190 on Pro/Enterprise), and contact searches per second (HubSpot: 5).
    pub hubspot_requests_per_10_seconds: u32,
    pub hubspot_searches_per_second: u32,
    /// Signs the OAuth install's `state` (a key derived from `ENCRYPTION_KEY`).
    pub oauth_state: StateSigner,
    /// The OAuth install; `None` when the client id or secret is not set.
    pub oauth: Option<OAuthConfig>,
}

/// The connector as an Aircall OAuth app (a technology partner's client).
#[derive(Clone)]
pub struct OAuthConfig {
    pub client_id: String,
    pub client_secret: String,
    /// Where `/oauth/authorize` is, e.g. `https://dashboard.aircall.io`.
    pub authorize_base: String,
}

impl std::fmt::Debug for OAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthConfig")
            .field("client_id", &self.client_id)
            .field("authorize_base", &self.authorize_base)
            .finish_non_exhaustive() // never the secret
    }
}

impl Config {
    /// Reads every setting through `lookup` (env var or secret by name).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let number = |name: &'static str, default: u32| -> Result<u32, ConfigError> {
            match lookup(name) {
                None => Ok(default),
                Some(v) => v.trim().parse().map_err(|_| {
                    ConfigError::Invalid(name, format!("{v:?} is not a whole number"))
                }),
            }
        };
        let base_url = |name: &'static str, default: Option<&str>| -> Result<String, ConfigError> {
            let value = match (lookup(name), default) {
                (Some(v), _) => v,
                (None, Some(d)) => d.to_string(),
                (None, None) => return Err(ConfigError::Missing(name)),
            };
            let parsed = url::Url::parse(&value)
                .map_err(|e| ConfigError::Invalid(name, format!("{value:?}: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ConfigError::Invalid(
                    name,
                    format!("{value:?} is not an http(s) URL"),
                ));
            }
            Ok(value.trim_end_matches('/').to_string())
        };

        let admin_token = required("ADMIN_TOKEN")?;
        if admin_token.len() < 16 {
            return Err(ConfigError::Invalid(
                "ADMIN_TOKEN",
                "use at least 16 characters".into(),
            ));
        }
        let encryption_key = required("ENCRYPTION_KEY")?;
        let sealer = Sealer::new(&encryption_key)
            .map_err(|e| ConfigError::Invalid("ENCRYPTION_KEY", e.to_string()))?;
        let links = LinkSigner::new(&encryption_key)
            .map_err(|e| ConfigError::Invalid("ENCRYPTION_KEY", e.to_string()))?;
        let oauth_state = StateSigner::new(&encryption_key)
            .ok_or_else(|| ConfigError::Invalid("ENCRYPTION_KEY", "not base64".into()))?;
        let optional = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let oauth_base = base_url("AIRCALL_OAUTH_BASE", Some("https://dashboard.aircall.io"))?;
        let oauth = match (
            optional("AIRCALL_OAUTH_CLIENT_ID"),
            optional("AIRCALL_OAUTH_CLIENT_SECRET"),
        ) {
            (Some(client_id), Some(client_secret)) => Some(OAuthConfig {
                client_id: client_id.trim().to_string(),
                client_secret: client_secret.trim().to_string(),
                authorize_base: oauth_base,
            }),
            _ => None,
        };
        let defaults = RetryPolicy::default();
        let retry = RetryPolicy {
            base_seconds: number("RETRY_BASE_SECONDS", defaults.base_seconds)?.max(1),
            max_attempts: number("RETRY_MAX_ATTEMPTS", defaults.max_attempts)?.max(1),
        };
        Ok(Self {
            admin_token,
            sealer,
            aircall_api_base: base_url("AIRCALL_API_BASE", Some("https://api.aircall.io"))?,
            public_base_url: base_url("PUBLIC_BASE_URL", None)?,
            delivery_timeout_ms: number("DELIVERY_TIMEOUT_SECONDS", 15)?.clamp(1, 60) * 1000,
            retry,
            aircall_requests_per_minute: number("AIRCALL_REQUESTS_PER_MINUTE", 60)?.max(1),
            aircall_result_cap: u64::from(
                number("AIRCALL_RESULT_CAP", AIRCALL_RESULT_CAP as u32)?.max(100),
            ),
            links,
            recording_link_seconds: u64::from(number("RECORDING_LINK_HOURS", 168)?.max(1)) * 3600,
            recording_hosts: RecordingHosts::parse(
                &lookup("RECORDING_HOSTS").unwrap_or_else(|| DEFAULT_RECORDING_HOSTS.into()),
            )
            .map_err(|e| ConfigError::Invalid("RECORDING_HOSTS", e))?,
            oauth_state,
            oauth,
            hubspot_api_base: base_url("HUBSPOT_API_BASE", Some("https://api.hubapi.com"))?,
            hubspot_requests_per_10_seconds: number("HUBSPOT_REQUESTS_PER_10_SECONDS", 100)?.max(1),
            hubspot_searches_per_second: number("HUBSPOT_SEARCHES_PER_SECOND", 5)?.max(1),
            segment_us_base: base_url("SEGMENT_US_BASE", Some("https://api.segment.io"))?,
            segment_eu_base: base_url(
                "SEGMENT_EU_BASE",
                Some("https://events.eu1.segmentapis.com"),
            )?,
        })
    }
}

/// Aircall's recording and voicemail links are S3 presigned URLs on its buckets, virtual-hosted
/// (`production-pdx-555773567328-web.s3.us-west-2.amazonaws.com`, seen in a real voicemail) or
/// in the global form (`bucket.s3.amazonaws.com`). Aircall publishes no list of its buckets.
pub const DEFAULT_RECORDING_HOSTS: &str = "*.s3.amazonaws.com,*.s3.*.amazonaws.com";

/// The hosts a recording link taken from Aircall may point at: a link in a webhook payload
/// is not proof it came from Aircall, so anything else is not fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingHosts(Vec<HostPattern>);

#[derive(Debug, Clone, PartialEq)]
struct HostPattern {
    /// `https` unless the entry says `http://` (local fakes only).
    scheme: String,
    /// The host's labels; `*` stands for any one label.
    labels: Vec<String>,
}

impl RecordingHosts {
    /// A comma-separated list: `host.example`, `*.s3.*.amazonaws.com` (`*`: one label),
    /// or `http://127.0.0.1` to allow plain http (any port) to one host, for local runs.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut patterns = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (scheme, host) = match entry.split_once("://") {
                Some(("http", host)) => ("http", host),
                Some(("https", host)) => ("https", host),
                Some(_) => return Err(format!("{entry:?}: only http:// or https:// hosts")),
                None => ("https", entry),
            };
            let host = host.trim_end_matches('/').to_ascii_lowercase();
            let labels: Vec<String> = host.split('.').map(str::to_string).collect();
            let valid = |l: &String| {
                l == "*"
                    || (!l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            };
            // A bare `*` or `*.com` would allow nearly anything.
            let named = labels.iter().filter(|l| *l != "*").count();
            if !labels.iter().all(valid) || named < 2 {
                return Err(format!(
                    "{entry:?} is not a host name (at least two named labels)"
                ));
            }
            patterns.push(HostPattern {
                scheme: scheme.into(),
                labels,
            });
        }
        if patterns.is_empty() {
            return Err("lists no host".into());
        }
        Ok(Self(patterns))
    }

    /// Whether `url` may be fetched: its scheme and host match an entry, with the default
    /// port for https, and no user name or password in it.
    pub fn allows(&self, url: &str) -> bool {
        let Ok(url) = url::Url::parse(url) else {
            return false;
        };
        let Some(url::Host::Domain(host)) = url.host() else {
            // An IP address only where an entry names it (`http://127.0.0.1`).
            return url.host_str().is_some_and(|ip| {
                self.0.iter().any(|p| {
                    p.scheme == url.scheme() && p.labels.join(".") == ip && p.scheme == "http"
                })
            });
        };
        if !url.username().is_empty() || url.password().is_some() {
            return false;
        }
        let labels: Vec<&str> = host.split('.').collect();
        self.0.iter().any(|p| {
            p.scheme == url.scheme()
                && (p.scheme == "http" || url.port().is_none())
                && p.labels.len() == labels.len()
                && p.labels
                    .iter()
                    .zip(&labels)
                    .all(|(p, h)| p == "*" || p == h)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const GOOD: &[(&str, &str)] = &[
        ("ADMIN_TOKEN", "0123456789abcdef"),
        (
            "ENCRYPTION_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        ),
        ("PUBLIC_BASE_URL", "https://connector.example.com/"),
    ];

    #[test]
    fn reads_settings_with_defaults() {
        let config = Config::from_lookup(vars(GOOD)).unwrap();
        assert_eq!(config.public_base_url, "https://connector.example.com");
        assert_eq!(config.aircall_api_base, "https://api.aircall.io");
        assert_eq!(config.delivery_timeout_ms, 15_000);
        assert_eq!(config.retry, RetryPolicy::default());
        assert!(
            config.oauth.is_none(),
            "OAuth is off until its client is set"
        );
        assert_eq!(config.segment_us_base, "https://api.segment.io");
        assert_eq!(config.segment_eu_base, "https://events.eu1.segmentapis.com");
        assert_eq!(config.hubspot_api_base, "https://api.hubapi.com");
        assert_eq!(
            (
                config.hubspot_requests_per_10_seconds,
                config.hubspot_searches_per_second
            ),
            (100, 5)
        );
    }

    #[test]
    fn oauth_needs_both_client_settings() {
        let mut pairs = GOOD.to_vec();
        pairs.push(("AIRCALL_OAUTH_CLIENT_ID", "client-1"));
        assert!(Config::from_lookup(vars(&pairs)).unwrap().oauth.is_none());
        pairs.push(("AIRCALL_OAUTH_CLIENT_SECRET", "shh-secret"));
        let config = Config::from_lookup(vars(&pairs)).unwrap();
        let oauth = config.oauth.unwrap();
        assert_eq!(oauth.authorize_base, "https://dashboard.aircall.io");
        assert!(!format!("{oauth:?}").contains("shh-secret"));
    }

    #[test]
    fn names_what_is_missing_or_wrong_without_echoing_secrets() {
        let missing = Config::from_lookup(vars(&GOOD[1..])).unwrap_err();
        assert_eq!(missing, ConfigError::Missing("ADMIN_TOKEN"));

        let mut bad_key = GOOD.to_vec();
        bad_key[1] = ("ENCRYPTION_KEY", "dG9vIHNob3J0");
        let err = Config::from_lookup(vars(&bad_key)).unwrap_err().to_string();
        assert!(
            err.contains("ENCRYPTION_KEY") && !err.contains("dG9vIHNob3J0"),
            "{err}"
        );

        let mut bad_url = GOOD.to_vec();
        bad_url[2] = ("PUBLIC_BASE_URL", "ftp://x");
        assert!(matches!(
            Config::from_lookup(vars(&bad_url)),
            Err(ConfigError::Invalid("PUBLIC_BASE_URL", _))
        ));
    }

    #[test]
    fn recording_hosts_default_to_aircall_s_s3_links_over_https() {
        let hosts = Config::from_lookup(vars(GOOD)).unwrap().recording_hosts;
        for good in [
            "https://production-pdx-555773567328-web.s3.us-west-2.amazonaws.com/companies/1/recordings/call-1.mp3?X-Amz-Expires=600",
            "https://aircall-recordings.s3.amazonaws.com/1.mp3",
        ] {
            assert!(hosts.allows(good), "{good}");
        }
        for bad in [
            "http://aircall-recordings.s3.amazonaws.com/1.mp3",
            "https://aircall-recordings.s3.amazonaws.com:8443/1.mp3",
            "https://user:pw@aircall-recordings.s3.amazonaws.com/1.mp3",
            "https://evil.example/1.mp3",
            "https://s3.amazonaws.com.evil.example/1.mp3",
            "https://169.254.169.254/latest/meta-data",
            "http://127.0.0.1:8790/recordings/1.mp3",
            "https://ec2-1-2-3-4.compute-1.amazonaws.com/1.mp3",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(!hosts.allows(bad), "{bad}");
        }
    }

    #[test]
    fn local_runs_allow_plain_http_only_to_the_hosts_they_name() {
        let hosts = RecordingHosts::parse("http://127.0.0.1, r.test").unwrap();
        assert!(hosts.allows("http://127.0.0.1:8790/recordings/1.mp3"));
        assert!(!hosts.allows("https://127.0.0.1/recordings/1.mp3"));
        assert!(hosts.allows("https://r.test/1.mp3"));
        assert!(!hosts.allows("http://r.test/1.mp3"));
        for bad in ["", "*", "*.com", "ftp://x.test", "a..b"] {
            assert!(RecordingHosts::parse(bad).is_err(), "{bad:?}");
        }
        let mut pairs = GOOD.to_vec();
        pairs.push(("RECORDING_HOSTS", "*.com"));
        assert!(matches!(
            Config::from_lookup(vars(&pairs)),
            Err(ConfigError::Invalid("RECORDING_HOSTS", _))
        ));
    }
}
