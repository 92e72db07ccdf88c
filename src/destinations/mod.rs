//! Destinations: where an integration's events go. Each is a folder of one shape
//! ([`Plugin`]: its settings, how an admin gives it, its cost, its delivery), registered on
//! one line at the bottom of this file. The delivery pipeline (`crate::delivery`) and the
//! admin API reach them only through [`Destination`], whose every method matches them all:
//! a destination missing a part does not compile.

mod plugin;

pub use plugin::{Field, FieldKind, Plugin, Ready, Target};

use crate::config::Config;
use crate::contacts::CrmProperties;
use crate::crm::caller::{Caller, CallerLookup, OpenDeals};
use crate::crm::{ChangeCursor, Crm, CrmError, CrmRecord, Logged, Owner};
use crate::infra::InfraError;
use crate::ports::Platform;
use crate::problems::{FieldError, Problems};
use crate::retry::Outcome;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// A destination as an admin gives it: its settings, and its secret when one was given.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDestination {
    pub destination: Destination,
    pub secret: Option<String>,
}

/// Checks a request's `destination` object: its `type`, then its own fields; every problem
/// goes to `problems` under `destination.`.
pub fn parse(fields: &Map<String, Value>, problems: &mut Problems) -> Option<NewDestination> {
    let kind = fields.get("type").and_then(Value::as_str);
    let Some(plugin) = kind.and_then(|k| ALL.iter().find(|d| d.kind == k)) else {
        let types: Vec<String> = ALL.iter().map(|d| format!("\"{}\"", d.kind)).collect();
        problems.add("destination.type", format!("must be {}", or_list(&types)));
        return None;
    };
    for key in fields.keys().filter(|k| *k != "type") {
        if !plugin.fields.iter().any(|f| f.name == key) {
            let elsewhere = ALL.iter().any(|d| d.fields.iter().any(|f| f.name == key));
            let message = match elsewhere {
                true => format!("is not a field of a {} destination", plugin.kind),
                false => "is not a known field".to_string(),
            };
            problems.add(&format!("destination.{key}"), message);
        }
    }
    (plugin.parse)(fields, problems)
}

/// Checks the `destination` of a new integration: as [`parse`], and its secret must be given
/// unless one is made for it (a webhook's).
pub fn parse_new(fields: &Map<String, Value>, problems: &mut Problems) -> Option<NewDestination> {
    let parsed = parse(fields, problems);
    let kind = fields.get("type").and_then(Value::as_str);
    if let Some(entry) = ALL.iter().find(|d| Some(d.kind) == kind) {
        if let Some(secret) = entry.required_secret() {
            if matches!(fields.get(secret), None | Some(Value::Null)) {
                problems.add(&format!("destination.{secret}"), "is required");
            }
        }
    }
    parsed
}

impl NewDestination {
    /// The problem with it when it replaces `current`: a destination of another kind needs
    /// its secret, unless one is made for it (a webhook's); the same kind keeps its own.
    pub fn missing_secret(&self, current: Option<&Destination>) -> Option<FieldError> {
        let same_kind = current.is_some_and(|c| c.kind() == self.destination.kind());
        let secret = self.destination.entry().required_secret()?;
        (self.secret.is_none() && !same_kind).then(|| FieldError {
            field: format!("destination.{secret}"),
            message: "is required".into(),
        })
    }
}

/// `"a", "b" or "c"`.
fn or_list(items: &[String]) -> String {
    match items.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// What `GET /api/destinations` answers: each destination, its fields (which are secret),
/// its default events, so that forms are built from it.
pub fn catalogue() -> Value {
    Value::Array(
        ALL.iter()
            .map(|d| {
                json!({
                    "type": d.kind,
                    "name": d.name,
                    "fields": d.fields,
                    "default_events": d.default_events,
                    "crm": d.crm,
                })
            })
            .collect(),
    )
}

/// What `GET /api/events` answers: every event the connector knows, grouped, each with the
/// destinations whose default selection forwards it; and each destination's default (`null`:
/// every event, those Aircall adds later included).
pub fn events_catalogue() -> Value {
    let default_for = |event: &str| -> Vec<&str> {
        let forwards = |d: &&Entry| d.default_events.is_none_or(|list| list.contains(&event));
        ALL.iter().filter(forwards).map(|d| d.kind).collect()
    };
    let groups = crate::aircall::events::GROUPS.iter().map(|g| {
        let events = g
            .events
            .iter()
            .map(|e| json!({"name": e, "default_for": default_for(e)}));
        json!({"name": g.name, "label": g.label, "events": events.collect::<Vec<_>>()})
    });
    let defaults: Map<String, Value> = ALL
        .iter()
        .map(|d| (d.kind.to_string(), json!(d.default_events)))
        .collect();
    json!({"groups": groups.collect::<Vec<_>>(), "defaults": defaults})
}

/// One registered destination, seen without its settings.
struct Entry {
    kind: &'static str,
    name: &'static str,
    fields: &'static [Field],
    default_events: Option<&'static [&'static str]>,
    crm: bool,
    parse: fn(&Map<String, Value>, &mut Problems) -> Option<NewDestination>,
}

impl Entry {
    /// The secret field a new destination of this kind must be given, if any.
    fn required_secret(&self) -> Option<&'static str> {
        let field = self.fields.iter().find(|f| f.secret && f.required)?;
        Some(field.name)
    }
}

/// Registers the destinations: `Variant: folder::Plugin`, one line each.
macro_rules! register {
    ($($variant:ident: $module:ident::$plugin:ident),+ $(,)?) => {
        $(pub mod $module;)+

        /// An integration's destination with its settings, stored as `{"type", ...settings}`.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        pub enum Destination {
            $($variant(<$module::$plugin as Plugin>::Settings),)+
        }

        const ALL: &[Entry] = &[$(Entry {
            kind: <$module::$plugin as Plugin>::TYPE,
            name: <$module::$plugin as Plugin>::NAME,
            fields: <$module::$plugin as Plugin>::FIELDS,
            default_events: <$module::$plugin as Plugin>::DEFAULT_EVENTS,
            crm: <$module::$plugin as Plugin>::CRM,
            parse: |fields, problems| {
                let (settings, secret) = <$module::$plugin as Plugin>::parse(fields, problems)?;
                Some(NewDestination { destination: Destination::$variant(settings), secret })
            },
        },)+];

        impl Destination {
            fn entry(&self) -> &'static Entry {
                let kind = match self {
                    $(Destination::$variant(_) => <$module::$plugin as Plugin>::TYPE,)+
                };
                ALL.iter().find(|d| d.kind == kind).expect("registered")
            }

            pub fn generate_secret(&self) -> Option<String> {
                match self {
                    $(Destination::$variant(_) => <$module::$plugin as Plugin>::generate_secret(),)+
                }
            }

            pub fn shows_secret(&self) -> bool {
                match self {
                    $(Destination::$variant(_) => <$module::$plugin as Plugin>::SHOWS_SECRET,)+
                }
            }

            pub fn reads_calls(&self) -> bool {
                match self {
                    $(Destination::$variant(_) => <$module::$plugin as Plugin>::READS_CALLS,)+
                }
            }

            pub fn reads_ai(&self) -> bool {
                match self {
                    $(Destination::$variant(_) => <$module::$plugin as Plugin>::READS_AI,)+
                }
            }

            pub fn batches(&self) -> bool {
                match self {
                    $(Destination::$variant(_) => <$module::$plugin as Plugin>::BATCHES,)+
                }
            }

            pub fn requests_per_delivery(&self) -> u32 {
                match self {
                    $(Destination::$variant(_) => <$module::$plugin as Plugin>::REQUESTS_PER_DELIVERY,)+
                }
            }

            pub fn requests_per_ai_delivery(&self) -> u32 {
                match self {
                    $(Destination::$variant(_) => <$module::$plugin as Plugin>::REQUESTS_PER_AI_DELIVERY,)+
                }
            }

            pub fn recording_link_seconds(&self, config: &Config) -> u64 {
                match self {
                    $(Destination::$variant(_) => {
                        <$module::$plugin as Plugin>::recording_link_seconds(config)
                    })+
                }
            }

            /// What it sends for `ready`, without secrets (the event log's "as sent").
            pub fn shown(&self, ready: &Ready) -> Value {
                match self {
                    $(Destination::$variant(settings) => {
                        <$module::$plugin as Plugin>::shown(settings, ready)
                    })+
                }
            }

            pub async fn deliver<P: Platform>(
                &self,
                p: &P,
                config: &Config,
                integration_id: &str,
                secret: &str,
                batch: &[Ready],
            ) -> Result<Vec<Outcome>, InfraError> {
                match self {
                    $(Destination::$variant(settings) => {
                        let target = Target { integration_id, settings, secret, config };
                        <$module::$plugin as Plugin>::deliver(p, &target, batch).await
                    })+
                }
            }
        }

        /// KV prefixes every destination keeps for an integration (whichever it has now:
        /// it may have had another), removed with the integration.
        pub fn state_prefixes(integration_id: &str) -> Vec<String> {
            let mut prefixes = Vec::new();
            $(prefixes.extend(<$module::$plugin as Plugin>::state_prefixes(integration_id));)+
            prefixes
        }
    };
}

impl Destination {
    /// The CRM behind a CRM destination, for one integration (`secret`: its token).
    pub fn crm<'a, P: Platform>(
        &self,
        p: &'a P,
        config: &'a Config,
        integration_id: &'a str,
        secret: &'a str,
    ) -> Option<AnyCrm<'a, P>> {
        match self {
            Destination::Hubspot(_) => Some(AnyCrm::Hubspot(hubspot::HubspotCrm::new(
                p,
                config,
                integration_id,
                secret,
            ))),
            Destination::Webhook(_) | Destination::Segment(_) => None,
        }
    }

    /// Its `type`.
    pub fn kind(&self) -> &'static str {
        self.entry().kind
    }

    pub fn name(&self) -> &'static str {
        self.entry().name
    }

    /// Events forwarded when the integration names none (`None`: every event).
    pub fn default_events(&self) -> Option<&'static [&'static str]> {
        self.entry().default_events
    }

    /// A CRM: it logs calls; contact sync and `users_from` can use it.
    pub fn is_crm(&self) -> bool {
        self.entry().crm
    }
}

/// The CRM destinations, as one [`Crm`].
pub enum AnyCrm<'a, P> {
    Hubspot(hubspot::HubspotCrm<'a, P>),
}

impl<P: Platform> Crm for AnyCrm<'_, P> {
    async fn log_call(&self, event: &str, data: &Map<String, Value>) -> Result<Logged, CrmError> {
        match self {
            AnyCrm::Hubspot(crm) => crm.log_call(event, data).await,
        }
    }

    async fn owners(&self) -> Result<Vec<Owner>, CrmError> {
        match self {
            AnyCrm::Hubspot(crm) => crm.owners().await,
        }
    }

    async fn changed_contacts(
        &self,
        cursor: &mut ChangeCursor,
        properties: &[String],
    ) -> Result<(Vec<CrmRecord>, bool), CrmError> {
        match self {
            AnyCrm::Hubspot(crm) => crm.changed_contacts(cursor, properties).await,
        }
    }

    async fn ids_by_email(&self, emails: &[String]) -> Result<BTreeMap<String, String>, CrmError> {
        match self {
            AnyCrm::Hubspot(crm) => crm.ids_by_email(emails).await,
        }
    }

    async fn ids_by_phone(&self, numbers: &[String]) -> Result<BTreeMap<String, String>, CrmError> {
        match self {
            AnyCrm::Hubspot(crm) => crm.ids_by_phone(numbers).await,
        }
    }

    async fn update_contacts(&self, updates: &[(String, CrmProperties)]) -> Result<(), CrmError> {
        match self {
            AnyCrm::Hubspot(crm) => crm.update_contacts(updates).await,
        }
    }

    async fn create_contacts(
        &self,
        contacts: &[CrmProperties],
    ) -> Result<Vec<Option<String>>, CrmError> {
        match self {
            AnyCrm::Hubspot(crm) => crm.create_contacts(contacts).await,
        }
    }
}

impl<P: Platform> AnyCrm<'_, P> {
    /// The same CRM for live work (insight cards): short timeouts.
    pub fn live(self) -> Self {
        match self {
            AnyCrm::Hubspot(crm) => AnyCrm::Hubspot(crm.live()),
        }
    }
}

impl<P: Platform> CallerLookup for AnyCrm<'_, P> {
    async fn caller_by_id(&self, id: &str) -> Result<Option<Caller>, CrmError> {
        match self {
            AnyCrm::Hubspot(crm) => crm.caller_by_id(id).await,
        }
    }

    async fn caller_by_phone(&self, e164: &str) -> Result<Option<Caller>, CrmError> {
        match self {
            AnyCrm::Hubspot(crm) => crm.caller_by_phone(e164).await,
        }
    }

    async fn open_deals(&self, contact_id: &str) -> Result<OpenDeals, CrmError> {
        match self {
            AnyCrm::Hubspot(crm) => crm.open_deals(contact_id).await,
        }
    }
}

register! {
    Webhook: webhook::Webhook,
    Segment: segment::Segment,
    Hubspot: hubspot::Hubspot,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_destination_is_stored_under_its_type() {
        for entry in ALL {
            let mut problems = Problems::default();
            let mut fields = Map::new();
            fields.insert("type".into(), json!(entry.kind));
            // Whatever the fields, a parse that fails says so under destination.*.
            if let Some(new) = (entry.parse)(&fields, &mut problems) {
                let stored = serde_json::to_value(&new.destination).unwrap();
                assert_eq!(stored["type"], json!(entry.kind));
                assert_eq!(new.destination.kind(), entry.kind);
            }
            assert!(problems
                .0
                .iter()
                .all(|p| p.field.starts_with("destination.")));
        }
    }

    #[test]
    fn the_events_catalogue_marks_each_destinations_defaults_and_lists_every_default() {
        let catalogue = events_catalogue();
        let events: Vec<&Value> = catalogue["groups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["events"].as_array().unwrap())
            .collect();
        let of = |name: &str| events.iter().find(|e| e["name"] == name).copied().unwrap();
        assert_eq!(
            of("call.ended")["default_for"],
            json!(["webhook", "segment", "hubspot"])
        );
        assert_eq!(
            of("message.sent")["default_for"],
            json!(["webhook", "hubspot"])
        );
        // Segment's 26 defaults are all in the checklist, so each can be shown marked.
        let segment = segment::DEFAULT_EVENTS;
        for event in segment {
            assert!(
                of(event)["default_for"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("segment")),
                "{event}"
            );
        }
        let marked = events.iter().filter(|e| {
            e["default_for"]
                .as_array()
                .unwrap()
                .contains(&json!("segment"))
        });
        assert_eq!(marked.count(), segment.len());
        assert_eq!(catalogue["defaults"]["webhook"], Value::Null);
        assert_eq!(catalogue["defaults"]["segment"], json!(segment));
        let names: Vec<&Value> = catalogue["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| &g["name"])
            .collect();
        assert_eq!(
            names,
            ["calls", "users", "contacts", "numbers", "messages", "ai"]
        );
    }

    #[test]
    fn an_unknown_type_names_every_known_one() {
        let mut problems = Problems::default();
        let fields = json!({"type": "fax"});
        assert!(parse(fields.as_object().unwrap(), &mut problems).is_none());
        assert_eq!(problems.0[0].field, "destination.type");
        assert_eq!(
            problems.0[0].message,
            "must be \"webhook\", \"segment\" or \"hubspot\""
        );
    }
}
