//! Argon2id hashing on a bounded pool: at most `workers` hashes run at once, off the async
//! runtime, and at most `queue` more wait; beyond that callers are refused at once.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use tokio::sync::Semaphore;

/// Argon2id cost parameters (PHC names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB.
    pub m_cost: u32,
    pub t_cost: u32,
    pub p_cost: u32,
}

impl Default for HashParams {
    /// OWASP's recommendation for Argon2id: m=19456 KiB, t=2, p=1.
    fn default() -> Self {
        Self {
            m_cost: 19_456,
            t_cost: 2,
            p_cost: 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("the password hashing queue is full")]
    Overloaded,
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// A password to hash or verify; its `Debug` never shows it.
#[derive(Clone)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[derive(Clone)]
pub struct Hasher {
    argon: Arc<Argon2<'static>>,
    /// Permits for running + waiting jobs: when none is left we answer "overloaded".
    admission: Arc<Semaphore>,
    /// Permits for running jobs: one per worker.
    workers: Arc<Semaphore>,
    dummy_hash: Arc<String>,
    capacity: usize,
}

impl Hasher {
    pub fn new(params: HashParams, workers: usize, queue: usize) -> Result<Self, HashError> {
        let p = Params::new(params.m_cost, params.t_cost, params.p_cost, None)
            .map_err(|e| HashError::Internal(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
        let workers = workers.max(1);
        let dummy_salt = SaltString::generate(&mut OsRng);
        let dummy_hash = argon
            .hash_password(b"latchkey-dummy-password", &dummy_salt)
            .map_err(|e| HashError::Internal(e.to_string()))?
            .to_string();
        Ok(Self {
            argon: Arc::new(argon),
            admission: Arc::new(Semaphore::new(workers + queue)),
            workers: Arc::new(Semaphore::new(workers)),
            dummy_hash: Arc::new(dummy_hash),
            capacity: workers + queue,
        })
    }

    /// Jobs admitted and not yet finished (running or waiting).
    pub fn in_flight(&self) -> usize {
        self.capacity - self.admission.available_permits()
    }

    /// Runs `job` on the blocking pool once a worker is free, or refuses at once when full.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Argon2<'static>) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let _admitted = self
            .admission
            .clone()
            .try_acquire_owned()
            .map_err(|_| HashError::Overloaded)?;
        let _worker = self
            .workers
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| HashError::Internal(e.to_string()))?;
        let argon = self.argon.clone();
        tokio::task::spawn_blocking(move || job(&argon))
            .await
            .map_err(|e| HashError::Internal(e.to_string()))
    }

    /// Hashes a password into a PHC string.
    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        self.run(move |argon| {
            let salt = SaltString::generate(&mut OsRng);
            argon
                .hash_password(password.0.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| HashError::Internal(e.to_string()))
        })
        .await?
    }

    /// Verifies a password against a PHC string; with `None` verifies against a dummy hash so
    /// that unknown users cost the same time as known ones, and answers false.
    pub async fn verify(&self, password: Password, phc: Option<String>) -> Result<bool, HashError> {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| self.dummy_hash.as_str().to_owned());
        self.run(move |argon| {
            let parsed = PasswordHash::new(&phc).map_err(|e| HashError::Internal(e.to_string()))?;
            Ok(argon
                .verify_password(password.0.as_bytes(), &parsed)
                .is_ok()
                && known)
        })
        .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> HashParams {
        HashParams {
            m_cost: 64,
            t_cost: 1,
            p_cost: 1,
        }
    }

    #[tokio::test]
    async fn hash_and_verify() {
        let h = Hasher::new(cheap(), 1, 4).unwrap();
        let phc = h.hash(Password("s3cret!".into())).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(
            h.verify(Password("s3cret!".into()), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(!h.verify(Password("nope".into()), Some(phc)).await.unwrap());
        assert!(
            !h.verify(Password("latchkey-dummy-password".into()), None)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn refuses_when_queue_is_full() {
        // One worker, no queue: a second concurrent job is refused at once.
        let h = Hasher::new(HashParams::default(), 1, 0).unwrap();
        let h2 = h.clone();
        let first = tokio::spawn(async move { h2.hash(Password("a".into())).await });
        // Wait until the first job holds the only admission permit.
        while h.in_flight() == 0 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(
            h.hash(Password("b".into())).await,
            Err(HashError::Overloaded)
        ));
        assert!(first.await.unwrap().is_ok());
    }

    #[test]
    fn password_debug_is_redacted() {
        assert_eq!(
            format!("{:?}", Password("hunter2".into())),
            "Password(<redacted>)"
        );
    }
}
