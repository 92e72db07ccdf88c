//! An Aircall number as `GET /v1/numbers` lists it: what a picker needs of it.

use serde::{Deserialize, Serialize};

/// One of the account's numbers. Aircall answers more (time zone, opening state, users,
/// messages...); only these are kept. `digits` is as Aircall writes it, spaces included
/// (`"+33 1 76 36 06 95"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AircallNumber {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub digits: Option<String>,
    /// ISO 3166 alpha-2, as Aircall gives it.
    #[serde(default)]
    pub country: Option<String>,
}

/// One page of `GET /v1/numbers`.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberPage {
    pub numbers: Vec<AircallNumber>,
    /// Numbers of the account in all (`meta.total`).
    pub total: u64,
    /// Another page follows (`meta.next_page_link` is set).
    pub more: bool,
}
