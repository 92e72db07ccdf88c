//! aircall-connector: connects Aircall to the tools its customers use, as a Cloudflare Worker.
//!
//! Only `platform` touches the runtime; everything else is plain Rust over the traits in
//! `ports`, tested natively with `cargo test`.

pub mod ai;
pub mod aircall;
pub mod budget;
pub mod calls;
pub mod cards;
pub mod config;
pub mod consumer;
pub mod contact_sync;
pub mod contacts;
pub mod cpu;
pub mod crm;
pub mod crypto;
pub mod delivery;
pub mod destinations;
pub mod event_log;
pub mod http;
pub mod import;
pub mod infra;
pub mod ingress;
pub mod integration;
pub mod keys;
pub mod lifecycle;
pub mod numbers;
pub mod ports;
pub mod problems;
pub mod queue;
pub mod retry;
pub mod selection;
pub mod time;

#[cfg(target_arch = "wasm32")]
mod platform;

#[cfg(test)]
mod testing;
