//! HubSpot as a [`Crm`]: the requests behind contact sync and call logging.

use super::calls::{log_call, owners};
use super::client::{HubspotClient, HubspotError, BATCH_MAX};
use crate::config::Config;
use crate::contacts::{typed_forms, CrmProperties, TYPED_FORMS_MAX};
use crate::crm::{ChangeCursor, Crm, CrmError, CrmRecord, Logged, Owner};
use crate::ports::Platform;
use crate::retry::Failure;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// HubSpot contacts read per step of a pass (each becomes its own job).
pub const PAGE: usize = 100;

/// Most values one `IN`/`NOT_IN` filter takes.
const IN_MAX: usize = 100;

impl From<HubspotError> for CrmError {
    fn from(e: HubspotError) -> Self {
        CrmError::Remote {
            disposition: e.disposition(),
            message: e.to_string(),
        }
    }
}

/// One integration's HubSpot account.
pub struct HubspotCrm<'a, P> {
    pub(super) p: &'a P,
    pub(super) client: HubspotClient<'a, P>,
    pub(super) integration_id: &'a str,
}

impl<'a, P: Platform> HubspotCrm<'a, P> {
    pub fn new(p: &'a P, config: &'a Config, integration_id: &'a str, token: &'a str) -> Self {
        Self {
            p,
            client: HubspotClient::new(p, config, token),
            integration_id,
        }
    }
}

impl<P: Platform> Crm for HubspotCrm<'_, P> {
    async fn log_call(&self, event: &str, data: &Map<String, Value>) -> Result<Logged, CrmError> {
        log_call(self.p, self.integration_id, &self.client, event, data).await
    }

    async fn owners(&self) -> Result<Vec<Owner>, CrmError> {
        owners(self.p, self.integration_id, &self.client).await
    }

    /// A search on `lastmodifieddate`, oldest first. The filter moves instead of paging, so
    /// HubSpot's 10,000-result cap on a search never applies.
    async fn changed_contacts(
        &self,
        cursor: &mut ChangeCursor,
        properties: &[String],
    ) -> Result<(Vec<CrmRecord>, bool), CrmError> {
        let at = cursor.modified_ms.to_string();
        // The ids already read are left out at the cursor's millisecond only: a contact read
        // there and edited since is modified after it, and must be read again.
        let mut at_cursor =
            vec![json!({"propertyName": "lastmodifieddate", "operator": "EQ", "value": at})];
        for ids in cursor.ids_at.chunks(IN_MAX) {
            at_cursor.push(
                json!({"propertyName": "hs_object_id", "operator": "NOT_IN", "values": ids}),
            );
        }
        if let Some(after) = &cursor.id_after {
            at_cursor
                .push(json!({"propertyName": "hs_object_id", "operator": "GT", "value": after}));
        }
        let after_cursor =
            json!([{"propertyName": "lastmodifieddate", "operator": "GT", "value": at}]);
        // HubSpot takes one sort and promises no order among equal values: a crowded
        // millisecond is read alone, by id.
        let (groups, sort) = match cursor.id_after {
            Some(_) => (json!([{ "filters": at_cursor }]), "hs_object_id"),
            None => (
                json!([{ "filters": after_cursor }, { "filters": at_cursor }]),
                "lastmodifieddate",
            ),
        };
        let body = json!({
            "filterGroups": groups,
            "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
            "properties": properties,
            "limit": PAGE
        });
        let page = self.client.search("contacts", &body).await?;
        let full = page.results.len() == PAGE;
        if cursor.id_after.is_some() {
            match page.results.last() {
                Some(last) if full => cursor.id_after = Some(last.id.clone()),
                // That millisecond is read whole: what comes after it is next.
                _ => {
                    cursor.modified_ms += 1;
                    cursor.ids_at.clear();
                    cursor.id_after = None;
                }
            }
            return Ok((page.results, true));
        }
        for record in &page.results {
            let modified = record
                .properties
                .get("lastmodifieddate")
                .and_then(|d| modified_ms(d))
                .unwrap_or(cursor.modified_ms);
            if modified > cursor.modified_ms {
                cursor.modified_ms = modified;
                cursor.ids_at.clear();
            }
            if modified == cursor.modified_ms {
                cursor.ids_at.push(record.id.clone());
            }
        }
        // More contacts share that millisecond than a NOT_IN holds (a bulk import, say): the
        // list stops growing (it holds two pages at most), and the rest is read by id.
        if cursor.ids_at.len() > IN_MAX {
            cursor.id_after = Some("0".into());
        }
        Ok((page.results, full))
    }

    /// One batch read by e-mail per hundred.
    async fn ids_by_email(&self, emails: &[String]) -> Result<BTreeMap<String, String>, CrmError> {
        let mut ids = BTreeMap::new();
        for chunk in emails.chunks(BATCH_MAX) {
            let inputs: Vec<Value> = chunk.iter().map(|e| json!({ "id": e })).collect();
            let body = json!({"idProperty": "email", "properties": ["email"], "inputs": inputs});
            for record in self.client.batch("contacts", "read", &body).await? {
                if let Some(email) = record.properties.get("email") {
                    ids.insert(email.to_lowercase(), record.id);
                }
            }
        }
        Ok(ids)
    }

    /// HubSpot keeps numbers as typed and its search compares them literally: each number
    /// is looked up in the forms people type it in, on both phone properties, and each
    /// contact found is answered under the number it was found by. One search per twenty
    /// numbers (two filter groups of at most 100 forms on each property: four of HubSpot's
    /// five), so that a page of 50 Aircall contacts takes 3 searches, within the 4 a second
    /// bulk work may use (the fifth is kept for insight cards).
    async fn ids_by_phone(
        &self,
        numbers: &[String],
    ) -> Result<BTreeMap<String, String>, CrmError> {
        let mut ids = BTreeMap::new();
        for chunk in numbers.chunks(2 * IN_MAX / TYPED_FORMS_MAX) {
            // typed form -> the number it stands for (the first, should two share one).
            let mut number_of: BTreeMap<String, &String> = BTreeMap::new();
            for number in chunk {
                for form in typed_forms(number) {
                    number_of.entry(form.to_lowercase()).or_insert(number);
                }
            }
            let forms: Vec<&String> = number_of.keys().collect();
            let groups: Vec<Value> = forms
                .chunks(IN_MAX)
                .flat_map(|part| {
                    ["phone", "mobilephone"].map(|property| {
                        json!({"filters": [{"propertyName": property, "operator": "IN", "values": part}]})
                    })
                })
                .collect();
            let body = json!({
                "filterGroups": groups,
                "properties": ["phone", "mobilephone"],
                "limit": 200
            });
            for record in self.client.search("contacts", &body).await?.results {
                for property in ["phone", "mobilephone"] {
                    let typed = record.properties.get(property).map(|t| t.trim().to_lowercase());
                    if let Some(number) = typed.and_then(|t| number_of.get(&t)) {
                        ids.entry((*number).clone()).or_insert(record.id.clone());
                    }
                }
            }
        }
        Ok(ids)
    }

    async fn update_contacts(&self, updates: &[(String, CrmProperties)]) -> Result<(), CrmError> {
        for chunk in updates.chunks(BATCH_MAX) {
            let inputs: Vec<Value> = chunk
                .iter()
                .map(|(id, properties)| json!({"id": id, "properties": properties}))
                .collect();
            self.client
                .batch("contacts", "update", &json!({ "inputs": inputs }))
                .await?;
        }
        Ok(())
    }

    /// In a batch when HubSpot can tell the created ones apart by e-mail, one by one
    /// otherwise.
    async fn create_contacts(
        &self,
        contacts: &[CrmProperties],
    ) -> Result<Vec<Option<String>>, CrmError> {
        let mut ids = vec![None; contacts.len()];
        let (with_email, without): (Vec<usize>, Vec<usize>) =
            (0..contacts.len()).partition(|i| contacts[*i].contains_key("email"));
        for chunk in with_email.chunks(BATCH_MAX) {
            let inputs: Vec<Value> = chunk
                .iter()
                .map(|i| json!({"properties": contacts[*i]}))
                .collect();
            let created = self
                .client
                .batch("contacts", "create", &json!({ "inputs": inputs }))
                .await?;
            let by_email: BTreeMap<String, String> = created
                .into_iter()
                .filter_map(|r| Some((r.properties.get("email")?.to_lowercase(), r.id)))
                .collect();
            for i in chunk {
                ids[*i] = by_email.get(&contacts[*i]["email"].to_lowercase()).cloned();
            }
        }
        for i in without {
            let created = self
                .client
                .create("contacts", &contacts[i], json!([]))
                .await?;
            ids[i] = Some(created.id);
        }
        Ok(ids)
    }
}

/// HubSpot dates: ISO-8601 with milliseconds, or milliseconds.
fn modified_ms(text: &str) -> Option<u64> {
    if let Ok(ms) = text.parse() {
        return Some(ms);
    }
    let (seconds, fraction) = match text.split_once('.') {
        Some((s, f)) => (format!("{s}Z"), f.trim_end_matches('Z')),
        None => (text.to_string(), ""),
    };
    let seconds = crate::time::parse_rfc3339(&seconds)?;
    // Milliseconds: the fraction's first three digits (chars: the text is HubSpot's).
    let digits: String = fraction.chars().chain("000".chars()).take(3).collect();
    let ms: u64 = digits.parse().unwrap_or(0);
    Some(seconds as u64 * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hubspot_dates() {
        assert_eq!(modified_ms("1700000000123"), Some(1_700_000_000_123));
        assert_eq!(
            modified_ms("2023-11-14T22:13:20.123Z"),
            Some(1_700_000_000_123)
        );
        assert_eq!(
            modified_ms("2023-11-14T22:13:20.5Z"),
            Some(1_700_000_000_500)
        );
        assert_eq!(modified_ms("2023-11-14T22:13:20Z"), Some(1_700_000_000_000));
        assert_eq!(modified_ms("soon"), None);
        // Remote text: whatever it holds, no panic.
        assert_eq!(modified_ms("2023-11-14T22:13:20.éZ"), Some(1_700_000_000_000));
    }
}
