//! Domain rules: tenant model, password policy, hashing, signup. Knows nothing of HTTP or SQL.

pub mod error;
pub mod hasher;
pub mod jws;
pub mod keys;
pub mod oauth;
pub mod password_policy;
pub mod signup;
pub mod store;
pub mod tenant;
pub mod tokens;
pub mod user;

pub use error::Error;
