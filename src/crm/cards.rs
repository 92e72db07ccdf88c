//! Insight cards: an integration's settings for them, and the card itself, built from what
//! the CRM tells about the caller (pure: the requests are in `crate::cards`).

use super::caller::{Activity, Caller, OpenDeals};
use super::last_call::LastActivity;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// `insight_cards` on an integration with a CRM destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InsightCards {
    pub enabled: bool,
    /// What the card of a known caller shows, in this order (its name is always the title).
    pub blocks: Vec<Block>,
    pub unknown_caller: UnknownCaller,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Block {
    /// The company, and the title linking to the CRM record.
    Contact,
    Owner,
    LifecycleStage,
    Deals,
    LastActivity,
}

const BLOCKS: &[(&str, Block)] = &[
    ("contact", Block::Contact),
    ("owner", Block::Owner),
    ("lifecycle_stage", Block::LifecycleStage),
    ("deals", Block::Deals),
    ("last_activity", Block::LastActivity),
];

/// What a caller the CRM does not know gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownCaller {
    /// No card.
    None,
    /// A card saying so, with a link that creates the contact in the CRM.
    Card,
}

impl Default for InsightCards {
    fn default() -> Self {
        Self {
            enabled: false,
            blocks: BLOCKS.iter().map(|(_, b)| *b).collect(),
            unknown_caller: UnknownCaller::None,
        }
    }
}

/// Longest text of a block: Aircall publishes no limit, and the phone app's card is small.
const TEXT_MAX: usize = 120;

impl InsightCards {
    /// `{enabled, blocks, unknown_caller}`, each optional (defaults: off, every block,
    /// `"none"`); each problem as (field under `insight_cards.`, message).
    pub fn parse(value: &Value) -> Result<Self, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let mut settings = Self::default();
        let Some(fields) = value.as_object() else {
            return Err(vec![(
                "insight_cards".into(),
                "must be an object {enabled, blocks, unknown_caller}, or null".into(),
            )]);
        };
        for (name, field) in fields {
            let path = format!("insight_cards.{name}");
            match name.as_str() {
                "enabled" => match field.as_bool() {
                    Some(on) => settings.enabled = on,
                    None => problems.push((path, "must be true or false".into())),
                },
                "unknown_caller" => match field.as_str() {
                    Some("none") => settings.unknown_caller = UnknownCaller::None,
                    Some("card") => settings.unknown_caller = UnknownCaller::Card,
                    _ => problems.push((path, "must be \"none\" or \"card\"".into())),
                },
                "blocks" => match field.as_array() {
                    Some(list) if !list.is_empty() => {
                        settings.blocks.clear();
                        for (i, item) in list.iter().enumerate() {
                            let block = item
                                .as_str()
                                .and_then(|s| BLOCKS.iter().find(|(n, _)| *n == s));
                            match block {
                                Some((_, b)) if !settings.blocks.contains(b) => {
                                    settings.blocks.push(*b)
                                }
                                Some(_) => {}
                                None => problems.push((
                                    format!("{path}[{i}]"),
                                    format!("must be one of {}", block_names()),
                                )),
                            }
                        }
                    }
                    _ => problems.push((
                        path,
                        format!("must be a non-empty list of {}", block_names()),
                    )),
                },
                _ => problems.push((path, "is not a known field".into())),
            }
        }
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(problems)
        }
    }

    fn shows(&self, block: Block) -> bool {
        self.blocks.contains(&block)
    }

    /// Whether the deals or the last call are to be read at all.
    pub fn wants(&self, block: Block) -> bool {
        self.shows(block)
    }

    /// The card's `contents` for a known caller (the blocks Aircall documents: `title` and
    /// `shortText`, with optional `label` and `link`).
    pub fn known(
        &self,
        number: &str,
        caller: &Caller,
        deals: Option<&OpenDeals>,
        activity: Option<&LastActivity>,
    ) -> Vec<Value> {
        let name = caller.name.clone().unwrap_or_else(|| number.to_string());
        let mut title = json!({"type": "title", "text": short(&name)});
        let mut contents = Vec::new();
        if self.shows(Block::Contact) {
            if let Some(link) = &caller.link {
                title["link"] = json!(link);
            }
        }
        contents.push(title);
        for block in &self.blocks {
            let (label, text) = match block {
                Block::Contact => ("Company", caller.company.clone()),
                Block::Owner => ("Owner", caller.owner.clone()),
                Block::LifecycleStage => ("Lifecycle stage", caller.lifecycle_stage.clone()),
                Block::Deals => ("Open deals", deals.map(deals_text)),
                Block::LastActivity => match activity {
                    Some(LastActivity::Call(call)) => ("Last call", Some(activity_text(call))),
                    Some(LastActivity::Other(at)) => ("Last activity", Some(day(*at))),
                    None => ("Last call", None),
                },
            };
            if let Some(text) = text.filter(|t| !t.trim().is_empty()) {
                contents.push(json!({"type": "shortText", "label": label, "text": short(&text)}));
            }
        }
        contents
    }

    /// The card for a caller the CRM does not know (`unknown_caller: "card"`), its link
    /// creating the contact.
    pub fn unknown(number: &str, crm_name: &str, create_link: &str) -> Vec<Value> {
        vec![
            json!({"type": "title", "text": short(&format!("Unknown caller {number}"))}),
            json!({"type": "shortText", "label": crm_name, "text": "Not a contact yet: create it",
                   "link": create_link}),
        ]
    }
}

fn block_names() -> String {
    let names: Vec<String> = BLOCKS.iter().map(|(n, _)| format!("\"{n}\"")).collect();
    names.join(", ")
}

/// "2 open · largest 25,000.50 (Contract sent)"; "none".
fn deals_text(deals: &OpenDeals) -> String {
    let Some(largest) = deals.largest.as_ref().filter(|_| deals.count > 0) else {
        return "none".into();
    };
    let mut text = format!("{} open", deals.count);
    if let Some(amount) = largest.amount.as_deref().filter(|a| !a.is_empty()) {
        text.push_str(&format!(" · largest {}", grouped(amount)));
        if let Some(stage) = &largest.stage {
            text.push_str(&format!(" ({stage})"));
        }
    }
    text
}

/// "2026-03-04 · Connected · <summary>".
fn activity_text(activity: &Activity) -> String {
    let mut parts = Vec::new();
    if let Some(at) = activity.at {
        parts.push(day(at));
    }
    if let Some(outcome) = &activity.outcome {
        parts.push(outcome.clone());
    }
    match (&activity.summary, &activity.title) {
        (Some(summary), _) => parts.push(summary.clone()),
        (None, Some(title)) => parts.push(title.clone()),
        _ => {}
    }
    parts.join(" · ")
}

/// "2026-03-04" (UTC: the agent's time zone is not known).
fn day(at: i64) -> String {
    crate::time::rfc3339(at)[..10].to_string()
}

/// "25000.5" -> "25,000.50"; text that is not a number stays as it is.
fn grouped(amount: &str) -> String {
    let Ok(value) = amount.trim().parse::<f64>() else {
        return amount.to_string();
    };
    let cents = (value * 100.0).round() as i64;
    let (whole, fraction) = (cents.abs() / 100, cents.abs() % 100);
    let digits = whole.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    let sign = if cents < 0 { "-" } else { "" };
    if fraction == 0 {
        format!("{sign}{out}")
    } else {
        format!("{sign}{out}.{fraction:02}")
    }
}

/// At most [`TEXT_MAX`] characters, cut with an ellipsis.
fn short(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() <= TEXT_MAX {
        return text.to_string();
    }
    let cut: String = text.chars().take(TEXT_MAX - 1).collect();
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::caller::Deal;

    #[test]
    fn settings_default_to_off_with_every_block_and_name_each_problem() {
        let on = InsightCards::parse(&json!({"enabled": true})).unwrap();
        assert!(on.enabled);
        assert_eq!(on.blocks.len(), 5);
        assert_eq!(on.unknown_caller, UnknownCaller::None);
        let chosen = InsightCards::parse(
            &json!({"enabled": true, "blocks": ["deals", "owner", "deals"], "unknown_caller": "card"}),
        )
        .unwrap();
        assert_eq!(chosen.blocks, vec![Block::Deals, Block::Owner]);
        assert_eq!(chosen.unknown_caller, UnknownCaller::Card);
        let problems = InsightCards::parse(
            &json!({"enabled": "yes", "blocks": ["deals", "weather"], "unknown_caller": "ask", "colour": 1}),
        )
        .unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "insight_cards.blocks[1]",
                "insight_cards.colour",
                "insight_cards.enabled",
                "insight_cards.unknown_caller"
            ]
        );
        assert!(InsightCards::parse(&json!({"blocks": []})).is_err());
        assert!(InsightCards::parse(&json!(true)).is_err());
    }

    #[test]
    fn a_known_callers_card_shows_the_chosen_blocks_in_order() {
        let caller = Caller {
            id: "1001".into(),
            name: Some("Ann Lee".into()),
            company: Some("Acme".into()),
            link: Some("https://app.hubspot.com/contacts/42/record/0-1/1001".into()),
            owner: Some("Bob Smith".into()),
            lifecycle_stage: Some("Customer".into()),
            numbers: vec!["(415) 555-0100".into()],
            last_activity_at: Some(1_772_618_400),
        };
        assert!(caller.has_number("+14155550100"));
        assert!(!caller.has_number("+14155550199"));
        let french = Caller {
            numbers: vec!["".into(), "06 12 34 56 78".into()],
            ..Caller::default()
        };
        assert!(french.has_number("+33612345678"));
        assert!(!Caller::default().has_number("+33612345678"));
        let deals = OpenDeals {
            count: 2,
            largest: Some(Deal {
                name: Some("Big".into()),
                amount: Some("25000.5".into()),
                stage: Some("Contract sent".into()),
            }),
        };
        let activity = Activity {
            at: Some(1_772_618_400),
            outcome: Some("Connected".into()),
            title: Some("Call with Ann".into()),
            summary: Some("Wants a quote".into()),
        };
        let all = InsightCards::default();
        let last = LastActivity::Call(activity);
        let card = all.known("+14155550100", &caller, Some(&deals), Some(&last));
        assert_eq!(
            card,
            vec![
                json!({"type": "title", "text": "Ann Lee", "link": "https://app.hubspot.com/contacts/42/record/0-1/1001"}),
                json!({"type": "shortText", "label": "Company", "text": "Acme"}),
                json!({"type": "shortText", "label": "Owner", "text": "Bob Smith"}),
                json!({"type": "shortText", "label": "Lifecycle stage", "text": "Customer"}),
                json!({"type": "shortText", "label": "Open deals", "text": "2 open · largest 25,000.50 (Contract sent)"}),
                json!({"type": "shortText", "label": "Last call", "text": "2026-03-04 · Connected · Wants a quote"}),
            ]
        );
        let few = InsightCards {
            blocks: vec![Block::Deals],
            ..InsightCards::default()
        };
        let nameless = Caller {
            name: None,
            ..caller
        };
        let card = few.known("+14155550100", &nameless, Some(&OpenDeals::default()), None);
        assert_eq!(
            card,
            vec![
                json!({"type": "title", "text": "+14155550100"}),
                json!({"type": "shortText", "label": "Open deals", "text": "none"}),
            ]
        );
        // Something newer than the connector's call, logged by someone else: its date only.
        let activity_only = InsightCards {
            blocks: vec![Block::LastActivity],
            ..InsightCards::default()
        };
        let other = LastActivity::Other(1_772_704_800);
        let card = activity_only.known("+14155550100", &nameless, None, Some(&other));
        assert_eq!(
            card[1],
            json!({"type": "shortText", "label": "Last activity", "text": "2026-03-05"})
        );
        assert_eq!(
            activity_only
                .known("+14155550100", &nameless, None, None)
                .len(),
            1
        );
    }

    #[test]
    fn texts_stay_short_and_amounts_read_well() {
        assert_eq!(grouped("1234567"), "1,234,567");
        assert_eq!(grouped("999.999"), "1,000");
        assert_eq!(grouped("soon"), "soon");
        let long = "é".repeat(300);
        assert_eq!(short(&long).chars().count(), TEXT_MAX);
        let card = InsightCards::unknown("+33612345678", "HubSpot", "https://x/new");
        assert_eq!(card[0]["text"], "Unknown caller +33612345678");
        assert_eq!(card[1]["link"], "https://x/new");
    }
}
