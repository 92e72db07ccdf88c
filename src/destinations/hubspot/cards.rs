//! HubSpot as insight cards read it ([`CallerLookup`]): the contact behind a number (a search
//! on the forms people type numbers in, or a read by id when the number is cached), with the
//! date of its last activity, and its open deals (a search on the contact association).

use super::calls::owners;
use super::client::HubspotError;
use super::crm::HubspotCrm;
use crate::contacts::typed_forms;
use crate::crm::caller::{Caller, CallerLookup, Deal, OpenDeals};
use crate::crm::{CrmError, CrmRecord};
use crate::ports::Platform;
use serde_json::json;

/// The contact's properties a card shows. HubSpot keeps the last activity on the contact
/// itself: `notes_last_updated` (a call, note, task, meeting, e-mail... logged) and
/// `notes_last_contacted` (a call, meeting, sales e-mail), read here for no extra request.
const CONTACT_PROPERTIES: &[&str] = &[
    "firstname",
    "lastname",
    "company",
    "hubspot_owner_id",
    "lifecyclestage",
    "phone",
    "mobilephone",
    "notes_last_updated",
    "notes_last_contacted",
];

/// Where HubSpot's pages are for this account: the portal id and its UI host
/// (`GET /account-info/v3/details`, read once and kept).
#[derive(serde::Serialize, serde::Deserialize)]
struct Portal {
    #[serde(rename = "portalId")]
    portal_id: u64,
    #[serde(rename = "uiDomain", default = "default_ui")]
    ui_domain: String,
}

fn default_ui() -> String {
    "app.hubspot.com".into()
}

/// How long a card's HubSpot request may take: the phone is ringing.
const LIVE_TIMEOUT_MS: u32 = 2_500;

impl<'a, P: Platform> HubspotCrm<'a, P> {
    /// The same CRM for live work: short timeouts, and the whole of HubSpot's budgets (bulk
    /// work leaves a share of each).
    pub fn live(self) -> Self {
        Self {
            client: self.client.live().with_timeout(LIVE_TIMEOUT_MS),
            ..self
        }
    }
}

impl<P: Platform> HubspotCrm<'_, P> {
    async fn portal(&self) -> Result<Portal, CrmError> {
        let key = crate::keys::crm_account_key(self.integration_id);
        if let Some(portal) = self
            .p
            .get(&key)
            .await?
            .and_then(|t| serde_json::from_str::<Portal>(&t).ok())
        {
            return Ok(portal);
        }
        let answer = self.client.get("/account-info/v3/details").await?;
        let portal: Portal = serde_json::from_value(answer).map_err(|e| CrmError::Remote {
            message: format!("HubSpot's account details are not as documented: {e}"),
            disposition: crate::retry::Disposition::Permanent,
        })?;
        let text = serde_json::to_string(&portal).expect("serializes");
        self.p.put(&key, &text, None).await?;
        Ok(portal)
    }

    /// The card's view of a contact record: its page, its owner's name (from the owners list,
    /// read at most hourly), its stage as HubSpot labels it.
    async fn caller(&self, record: CrmRecord) -> Result<Caller, CrmError> {
        let get = |name: &str| {
            record
                .properties
                .get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let name = match (get("firstname"), get("lastname")) {
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (f, l) => f.or(l),
        };
        let owner = match get("hubspot_owner_id") {
            Some(id) => owners(self.p, self.integration_id, &self.client)
                .await?
                .into_iter()
                .find(|o| o.id == id)
                .and_then(|o| {
                    let full = [o.first_name, o.last_name]
                        .into_iter()
                        .flatten()
                        .filter(|n| !n.trim().is_empty())
                        .collect::<Vec<_>>()
                        .join(" ");
                    if full.is_empty() {
                        o.email
                    } else {
                        Some(full)
                    }
                }),
            None => None,
        };
        let portal = self.portal().await?;
        Ok(Caller {
            link: Some(format!(
                "https://{}/contacts/{}/record/0-1/{}",
                portal.ui_domain, portal.portal_id, record.id
            )),
            company: get("company"),
            lifecycle_stage: get("lifecyclestage").map(|s| label(LIFECYCLE_STAGES, &s)),
            owner,
            name,
            numbers: ["phone", "mobilephone"].into_iter().filter_map(get).collect(),
            last_activity_at: ["notes_last_updated", "notes_last_contacted"]
                .into_iter()
                .filter_map(|name| get(name).and_then(|t| timestamp(&t)))
                .max(),
            id: record.id,
        })
    }
}

impl<P: Platform> CallerLookup for HubspotCrm<'_, P> {
    async fn caller_by_id(&self, id: &str) -> Result<Option<Caller>, CrmError> {
        let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        let path = format!(
            "/crm/v3/objects/contacts/{id}?properties={}",
            CONTACT_PROPERTIES.join(",")
        );
        match self.client.get(&path).await {
            Ok(answer) => {
                let record: CrmRecord =
                    serde_json::from_value(answer).map_err(|e| CrmError::Remote {
                        message: format!("HubSpot's contact is not as documented: {e}"),
                        disposition: crate::retry::Disposition::Permanent,
                    })?;
                Ok(Some(self.caller(record).await?))
            }
            Err(HubspotError::Failed { status: 404, .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// HubSpot keeps numbers as typed: one search on both phone properties for every form
    /// the number is commonly typed in.
    async fn caller_by_phone(&self, e164: &str) -> Result<Option<Caller>, CrmError> {
        let forms = typed_forms(e164);
        let group = |property: &str| {
            json!({"filters": [{"propertyName": property, "operator": "IN", "values": forms}]})
        };
        let body = json!({
            "filterGroups": [group("phone"), group("mobilephone")],
            "properties": CONTACT_PROPERTIES,
            // The oldest contact first, should several share the number.
            "sorts": [{"propertyName": "createdate", "direction": "ASCENDING"}],
            "limit": 1
        });
        let page = self.client.search("contacts", &body).await?;
        match page.results.into_iter().next() {
            Some(record) => Ok(Some(self.caller(record).await?)),
            None => Ok(None),
        }
    }

    /// The open deals associated with the contact, largest first: the first is the largest,
    /// the total their count.
    async fn open_deals(&self, contact_id: &str) -> Result<OpenDeals, CrmError> {
        let body = json!({
            "filterGroups": [{"filters": [
                {"propertyName": "associations.contact", "operator": "EQ", "value": contact_id},
                {"propertyName": "hs_is_closed", "operator": "EQ", "value": "false"}
            ]}],
            "properties": ["dealname", "amount", "dealstage", "pipeline"],
            "sorts": [{"propertyName": "amount", "direction": "DESCENDING"}],
            "limit": 1
        });
        let page = self.client.search("deals", &body).await?;
        Ok(OpenDeals {
            count: page.total.max(page.results.len() as u64),
            largest: page.results.into_iter().next().map(|d| Deal {
                name: d.properties.get("dealname").cloned(),
                amount: d.properties.get("amount").cloned(),
                stage: d
                    .properties
                    .get("dealstage")
                    .map(|s| label(DEAL_STAGES, s)),
            }),
        })
    }
}

/// HubSpot dates: milliseconds, or ISO-8601 (with milliseconds): UNIX seconds.
fn timestamp(text: &str) -> Option<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return Some(ms / 1000);
    }
    let seconds = text.split('.').next()?.trim_end_matches('Z');
    crate::time::parse_rfc3339(&format!("{seconds}Z"))
}

/// HubSpot's label of one of its own values; another value (a custom stage) as it is.
fn label(labels: &[(&str, &str)], value: &str) -> String {
    labels
        .iter()
        .find(|(v, _)| v.eq_ignore_ascii_case(value))
        .map_or_else(|| value.to_string(), |(_, l)| l.to_string())
}

const LIFECYCLE_STAGES: &[(&str, &str)] = &[
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing qualified lead"),
    ("salesqualifiedlead", "Sales qualified lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
];

/// The default sales pipeline's stages.
const DEAL_STAGES: &[(&str, &str)] = &[
    ("appointmentscheduled", "Appointment scheduled"),
    ("qualifiedtobuy", "Qualified to buy"),
    ("presentationscheduled", "Presentation scheduled"),
    ("decisionmakerboughtin", "Decision maker bought-in"),
    ("contractsent", "Contract sent"),
    ("closedwon", "Closed won"),
    ("closedlost", "Closed lost"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hubspot_dates_and_labels() {
        assert_eq!(timestamp("1772618400000"), Some(1_772_618_400));
        assert_eq!(timestamp("2026-03-04T10:00:00.000Z"), Some(1_772_618_400));
        assert_eq!(timestamp("2026-03-04T10:00:00Z"), Some(1_772_618_400));
        assert_eq!(timestamp("soon"), None);
        assert_eq!(label(DEAL_STAGES, "contractsent"), "Contract sent");
        assert_eq!(label(DEAL_STAGES, "1234567"), "1234567");
    }
}
