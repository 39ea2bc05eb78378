//! latchkey: a self-hosted identity server speaking Auth0's Authentication API.

pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod infra;
pub mod json_records;
pub mod migration;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tenant_file;
