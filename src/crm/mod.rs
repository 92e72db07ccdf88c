//! CRMs: what a CRM destination does beyond delivery, and what the connector remembers
//! between Aircall's records and a CRM's.

pub mod links;
