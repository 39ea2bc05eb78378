//! latchkey: a self-hosted identity server speaking Auth0's Authentication API.

pub mod config;
pub mod domain;
pub mod http;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tenant_file;
pub mod tls;
