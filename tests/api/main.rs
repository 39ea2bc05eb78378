//! The integration suite: one binary, every test run against SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod authorize;
mod change_password;
mod credentials;
mod hardening;
mod helpers;
mod hostile_hashes;
mod hostile_management;
mod keys;
mod management;
mod management_access;
mod migration;
mod processes;
mod schema;
mod signup;
mod startup;
mod tokens;
