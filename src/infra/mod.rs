//! Infrastructure behind the domain's ports: the Argon2id hashing pool, the RS256 signer and
//! its key cache, signing-key generation and sealing, clocks, TLS set-up, and SMTP delivery.

pub mod clock;
pub mod event_log;
pub mod foreign_hash;
pub mod hasher;
pub mod jws;
pub mod keys;
pub mod mailer;
pub mod signer;
pub mod tls;
