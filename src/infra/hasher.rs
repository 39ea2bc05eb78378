//! Argon2id hashing on a bounded pool: one dedicated thread per worker (never the async
//! runtime), each keeping its Argon2 memory between hashes, fed by a bounded queue; when the
//! queue is full callers are refused at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use async_trait::async_trait;
use crossbeam_channel::Sender;
use rand::rngs::OsRng;
use tokio::sync::oneshot;

use crate::domain::error::Failure;
use crate::domain::imported_hash::argon2_within_ceiling;
use crate::domain::ports::{HashTicket, PasswordHasher};
pub use crate::domain::user::Password;

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

/// The password behind the dummy hash; verifying it for an unknown user still answers false.
const DUMMY_PASSWORD: &[u8] = b"latchkey-dummy-password";

fn internal(e: impl std::fmt::Display) -> HashError {
    HashError::Internal(e.to_string())
}

enum Work {
    Hash(Password),
    /// Verify against a PHC string; `known: false` means a dummy hash for an unknown user.
    Verify {
        password: Password,
        phc: String,
        known: bool,
    },
}

enum Answer {
    Hashed(String),
    Verified(bool),
}

struct Job {
    work: Work,
    reply: oneshot::Sender<Result<Answer, HashError>>,
}

/// Argon2 state one worker thread owns: the configured instance and its reusable memory.
pub struct Engine {
    params: Params,
    argon: Argon2<'static>,
    memory: Vec<Block>,
}

impl Engine {
    pub fn new(params: HashParams) -> Result<Self, HashError> {
        let params =
            Params::new(params.m_cost, params.t_cost, params.p_cost, None).map_err(internal)?;
        // Memory is taken on first use, so a server that has not hashed yet does not hold it.
        // It is then kept: freeing and re-taking the blocks for every hash fragments the
        // allocator's arenas, which measured a much higher peak RSS under load.
        Ok(Self {
            argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone()),
            params,
            memory: Vec::new(),
        })
    }

    fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.memory.len() < count {
            self.memory.resize(count, Block::default());
        }
        &mut self.memory[..count]
    }

    /// A PHC string identical in format to `argon2::PasswordHasher::hash_password`'s.
    pub fn hash(&mut self, password: &[u8]) -> Result<String, HashError> {
        let salt = SaltString::generate(&mut OsRng);
        let mut salt_buf = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_buf).map_err(internal)?;
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        let count = self.params.block_count();
        let argon = self.argon.clone();
        argon
            .hash_password_into_with_memory(password, salt_bytes, &mut out, self.blocks(count))
            .map_err(internal)?;
        let phc = PasswordHash {
            algorithm: argon2::ARGON2ID_IDENT,
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params).map_err(internal)?,
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&out).map_err(internal)?),
        };
        Ok(phc.to_string())
    }

    /// Constant-time comparison of the recomputed output with the stored one.
    pub fn verify(&mut self, password: &[u8], phc: &str) -> Result<bool, HashError> {
        let parsed = PasswordHash::new(phc).map_err(internal)?;
        let expected = parsed
            .hash
            .ok_or_else(|| internal("stored hash has no output"))?;
        let salt = parsed
            .salt
            .ok_or_else(|| internal("stored hash has no salt"))?;
        let params = Params::try_from(&parsed).map_err(internal)?;
        if !argon2_within_ceiling(params.m_cost(), params.t_cost(), params.p_cost()) {
            // Stored before imports were bounded: verifying it could take the process's
            // memory or a worker for hours. No password matches it; a reset replaces it.
            tracing::warn!(
                m = params.m_cost(),
                t = params.t_cost(),
                "a stored Argon2 hash is above the cost ceiling; refused without verifying"
            );
            return Ok(false);
        }
        let version = parsed
            .version
            .map(Version::try_from)
            .transpose()
            .map_err(internal)?
            .unwrap_or_default();
        let argon = Argon2::new(Algorithm::Argon2id, version, params.clone());
        let mut salt_buf = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_buf).map_err(internal)?;
        let mut out = vec![0u8; expected.len()];
        let hashed = argon.hash_password_into_with_memory(
            password,
            salt_bytes,
            &mut out,
            self.blocks(params.block_count()),
        );
        // A costlier stored hash (an import, an older setting) does not keep its memory on
        // the worker: only what new hashes need is kept.
        if self.memory.len() > self.params.block_count() {
            self.memory.truncate(self.params.block_count());
            self.memory.shrink_to_fit();
        }
        hashed.map_err(internal)?;
        Ok(Output::new(&out).map_err(internal)? == expected)
    }

    fn run(&mut self, work: Work) -> Result<Answer, HashError> {
        let (password, phc, known) = match work {
            Work::Hash(p) => return self.hash(p.0.as_bytes()).map(Answer::Hashed),
            Work::Verify {
                password,
                phc,
                known,
            } => (password, phc, known),
        };
        let verified = if crate::infra::foreign_hash::is_foreign(&phc) {
            // An imported hash (bcrypt, PBKDF2, digests…), on this same pool: it is re-hashed
            // to Argon2id at its first successful login.
            crate::infra::foreign_hash::verify(&phc, &password.0).map_err(internal)
        } else {
            self.verify(password.0.as_bytes(), &phc)
        };
        match verified {
            Ok(ok) => Ok(Answer::Verified(ok && known)),
            // A stored hash the verifier cannot read fails like a wrong password: an error
            // answer would tell a caller that this account exists. Logged, without the hash.
            Err(e) if known => {
                tracing::error!(cause = %e, "a stored password hash cannot be verified");
                Ok(Answer::Verified(false))
            }
            Err(e) => Err(e),
        }
    }
}

/// Hashing is throughput work; request handling is latency work. Hashing threads run at nice
/// 10 so that accepting connections, answering 429s and database round trips preempt them;
/// they still get every cycle nothing else wants. Failure (e.g. a sandbox) is harmless.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let tid = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(tid), 10) {
            tracing::debug!(error = %e, "could not lower the hashing thread's priority");
        }
    }
}

/// Named only once its priority is lowered, so that a thread found by its name (tests, the
/// benchmark, `top -H`) is already running as it will.
fn name_thread(name: &str) {
    #[cfg(target_os = "linux")]
    if let Ok(name) = std::ffi::CString::new(name) {
        let _ = rustix::thread::set_name(&name);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = name;
}

/// The parameters of an Argon2id PHC string (or of its prefix without salt and output);
/// `None` for anything else.
pub fn argon2id_params(phc: &str) -> Option<HashParams> {
    let parsed = PasswordHash::new(phc).ok()?;
    if parsed.algorithm != argon2::ARGON2ID_IDENT {
        return None;
    }
    let p = Params::try_from(&parsed).ok()?;
    // Never verified (see `Engine::verify`), so never a cost to match either.
    if !argon2_within_ceiling(p.m_cost(), p.t_cost(), p.p_cost()) {
        return None;
    }
    Some(HashParams {
        m_cost: p.m_cost(),
        t_cost: p.t_cost(),
        p_cost: p.p_cost(),
    })
}

/// What a hash costs to verify, for comparing parameter sets: Argon2 fills `m` blocks per
/// pass, `t` passes, whatever the lanes.
fn cost(p: HashParams) -> u64 {
    u64::from(p.m_cost) * u64::from(p.t_cost)
}

/// The hash verified for unknown users, and the parameters it was made with.
struct Dummy {
    phc: String,
    params: HashParams,
}

#[derive(Clone)]
pub struct Hasher {
    queue: Sender<Job>,
    /// Admitted jobs not yet finished; never above `capacity`.
    in_flight: Arc<AtomicUsize>,
    /// Jobs skipped because their request was dropped while they waited.
    skipped: Arc<AtomicUsize>,
    capacity: usize,
    /// What new hashes get.
    params: HashParams,
    /// Made with the parameters most stored accounts hold (`match_classes`), so that an
    /// unknown user costs what a wrong password for most accounts does.
    dummy: Arc<std::sync::RwLock<Arc<Dummy>>>,
}

/// A reserved place in the hashing pool: take it before doing other work for a request, so an
/// overloaded server refuses at once instead of after its database lookups.
pub struct Ticket {
    hasher: Hasher,
    submitted: bool,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.submitted {
            self.hasher.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Hasher {
    /// Starts `workers` hashing threads; at most `queue` jobs wait for them. The threads end
    /// when the last `Hasher` clone is dropped.
    pub fn new(params: HashParams, workers: usize, queue: usize) -> Result<Self, HashError> {
        let mut probe = Engine::new(params)?;
        let dummy_hash = probe.hash(DUMMY_PASSWORD)?;
        drop(probe);
        // Unbounded, because admission (`admit`) already bounds what enters.
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let skipped = Arc::new(AtomicUsize::new(0));
        let workers = workers.max(1);
        for i in 0..workers {
            let rx = rx.clone();
            let in_flight = in_flight.clone();
            let skipped = skipped.clone();
            let mut engine = Engine::new(params)?;
            let name = format!("latchkey-hash-{i}");
            std::thread::Builder::new()
                .spawn(move || {
                    lower_priority();
                    name_thread(&name);
                    while let Ok(job) = rx.recv() {
                        // The request was dropped while queued (its client went away): nobody
                        // would read the answer, so the hash is skipped.
                        if job.reply.is_closed() {
                            skipped.fetch_add(1, Ordering::Relaxed);
                            in_flight.fetch_sub(1, Ordering::SeqCst);
                            continue;
                        }
                        let answer = engine.run(job.work);
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        let _ = job.reply.send(answer);
                    }
                })
                .map_err(internal)?;
        }
        Ok(Self {
            queue: tx,
            in_flight,
            skipped,
            capacity: workers + queue,
            params,
            dummy: Arc::new(std::sync::RwLock::new(Arc::new(Dummy {
                phc: dummy_hash,
                params,
            }))),
        })
    }

    fn dummy(&self) -> Arc<Dummy> {
        match self.dummy.read() {
            Ok(d) => d.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The parameters of the dummy hash.
    pub fn dummy_params(&self) -> HashParams {
        self.dummy().params
    }

    /// Whether `phc` was made with other parameters than new hashes get.
    pub fn needs_rehash(&self, phc: &str) -> bool {
        argon2id_params(phc) != Some(self.params)
    }

    /// Makes the dummy hash cost what verifying the most common kind of stored account costs:
    /// `classes` are the Argon2id parameter prefixes of the stored hashes (PHC strings without
    /// salt and output) with how many users hold each. The class most users hold wins (the
    /// costlier one on a tie), so that an unknown user takes the time a wrong password takes
    /// for most accounts, after a cost raise as after a cost decrease. Classes above the
    /// import ceilings are never verified and never chosen; without any class the dummy keeps
    /// the parameters new hashes get.
    pub async fn match_classes(&self, classes: &[(String, i64)]) -> Result<(), HashError> {
        let chosen = classes
            .iter()
            .filter_map(|(prefix, users)| argon2id_params(prefix).map(|p| (*users, cost(p), p)))
            .max_by_key(|(users, cost, _)| (*users, *cost))
            .map(|(_, _, p)| p);
        match chosen {
            Some(params) => self.set_dummy(params).await,
            None => Ok(()),
        }
    }

    /// Replaces the dummy hash with one made with `params`, computed off the async runtime.
    pub async fn set_dummy(&self, params: HashParams) -> Result<(), HashError> {
        if params == self.dummy().params {
            return Ok(());
        }
        let phc = tokio::task::spawn_blocking(move || Engine::new(params)?.hash(DUMMY_PASSWORD))
            .await
            .map_err(internal)??;
        let mut slot = self
            .dummy
            .write()
            .map_err(|_| internal("dummy hash lock poisoned"))?;
        *slot = Arc::new(Dummy { phc, params });
        Ok(())
    }

    /// Jobs skipped so far because nobody waited for them any more.
    pub fn skipped(&self) -> usize {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Jobs admitted and not yet finished (running or waiting).
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Reserves a place, or refuses at once when workers and queue are all taken.
    pub fn admit(&self) -> Result<Ticket, HashError> {
        self.in_flight
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.capacity).then_some(n + 1)
            })
            .map_err(|_| HashError::Overloaded)?;
        Ok(Ticket {
            hasher: self.clone(),
            submitted: false,
        })
    }

    /// Hashes a password into a PHC string.
    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        self.admit()?.hash(password).await
    }

    /// Verifies a password against a PHC string; with `None` verifies against a dummy hash so
    /// that unknown users cost the same time as known ones, and answers false.
    pub async fn verify(&self, password: Password, phc: Option<String>) -> Result<bool, HashError> {
        self.admit()?.verify(password, phc).await
    }
}

impl Ticket {
    async fn submit(mut self, work: Work) -> Result<Answer, HashError> {
        let (reply, answer) = oneshot::channel();
        self.hasher
            .queue
            .send(Job { work, reply })
            .map_err(|_| internal("hashing workers stopped"))?;
        // From here the worker releases the place when it finishes.
        self.submitted = true;
        answer.await.map_err(internal)?
    }

    pub async fn hash(self, password: Password) -> Result<String, HashError> {
        match self.submit(Work::Hash(password)).await? {
            Answer::Hashed(h) => Ok(h),
            Answer::Verified(_) => Err(internal("unexpected answer")),
        }
    }

    pub async fn verify(self, password: Password, phc: Option<String>) -> Result<bool, HashError> {
        // A user imported without a password costs what an unknown one does, and fails.
        let phc = phc.filter(|p| p != crate::domain::imported_hash::NO_PASSWORD);
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| self.hasher.dummy().phc.clone());
        match self
            .submit(Work::Verify {
                password,
                phc,
                known,
            })
            .await?
        {
            Answer::Verified(ok) => Ok(ok),
            Answer::Hashed(_) => Err(internal("unexpected answer")),
        }
    }
}

impl From<HashError> for Failure {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Overloaded => Failure::Overloaded,
            e @ HashError::Internal(_) => Failure::Hashing(std::sync::Arc::new(e)),
        }
    }
}

impl PasswordHasher for Hasher {
    fn admit(&self) -> Result<Box<dyn HashTicket>, Failure> {
        Ok(Box::new(Hasher::admit(self)?))
    }

    fn needs_rehash(&self, phc: &str) -> bool {
        Hasher::needs_rehash(self, phc)
    }
}

#[async_trait]
impl HashTicket for Ticket {
    async fn hash(self: Box<Self>, password: Password) -> Result<String, Failure> {
        Ok(Ticket::hash(*self, password).await?)
    }

    async fn verify(
        self: Box<Self>,
        password: Password,
        phc: Option<String>,
    ) -> Result<bool, Failure> {
        Ok(Ticket::verify(*self, password, phc).await?)
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
    async fn refuses_at_once_when_the_queue_is_full() {
        // One worker, one queue slot, slow hashes: of ten submissions made in one burst two
        // (running + queued) are admitted; the rest are refused without waiting.
        let h = Hasher::new(
            HashParams {
                m_cost: 19_456,
                t_cost: 10,
                p_cost: 1,
            },
            1,
            1,
        )
        .unwrap();
        // join_all polls each future once, in order, before any completes.
        let results =
            futures::future::join_all((0..10).map(|_| h.hash(Password("pw".into())))).await;
        let admitted = results.iter().filter(|r| r.is_ok()).count();
        let refused = results
            .iter()
            .filter(|r| matches!(r, Err(HashError::Overloaded)))
            .count();
        assert_eq!(admitted, 2, "one running and one queued");
        assert_eq!(admitted + refused, 10);
        assert_eq!(h.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_request_dropped_while_queued_is_not_hashed() {
        use futures::FutureExt as _;
        let slow = HashParams {
            m_cost: 19_456,
            t_cost: 10,
            p_cost: 1,
        };
        let h = Hasher::new(slow, 1, 2).unwrap();
        let mut running = Box::pin(h.hash(Password("a".into())));
        assert!((&mut running).now_or_never().is_none(), "submitted");
        // Queued behind a slow hash, then dropped (its client went away).
        assert!(h.hash(Password("b".into())).now_or_never().is_none());
        assert!(running.await.is_ok());
        assert!(h.hash(Password("c".into())).await.is_ok());
        assert_eq!(h.skipped(), 1);
        assert_eq!(h.in_flight(), 0);
    }

    #[tokio::test]
    async fn an_unused_ticket_gives_its_place_back() {
        let h = Hasher::new(cheap(), 1, 0).unwrap();
        let t = h.admit().unwrap();
        assert!(matches!(h.admit(), Err(HashError::Overloaded)));
        drop(t);
        assert_eq!(h.in_flight(), 0);
        assert!(h.admit().unwrap().hash(Password("pw".into())).await.is_ok());
        assert_eq!(h.in_flight(), 0);
    }

    #[tokio::test]
    async fn the_dummy_takes_the_most_common_class_and_rehash_is_asked_for_others() {
        let h = Hasher::new(cheap(), 1, 4).unwrap();
        let mut other = Engine::new(HashParams {
            m_cost: 128,
            t_cost: 2,
            p_cost: 1,
        })
        .unwrap();
        let old = other.hash(b"pw").unwrap();
        assert!(h.needs_rehash(&old));
        assert!(!h.needs_rehash(&h.hash(Password("pw".into())).await.unwrap()));
        assert!(h.needs_rehash("not a phc string"));
        let class = argon2id_params("$argon2id$v=19$m=128,t=2,p=1").unwrap();
        assert_eq!(class, argon2id_params(&old).unwrap());
        let prefix = |p: HashParams| {
            format!(
                "$argon2id$v=19$m={},t={},p={}",
                p.m_cost, p.t_cost, p.p_cost
            )
        };
        h.match_classes(&[(prefix(class), 3), (prefix(cheap()), 1)])
            .await
            .unwrap();
        assert_eq!(h.dummy_params(), class);
        // Most users now hold the cheaper class (a cost raise, before they log in again).
        h.match_classes(&[(prefix(class), 1), (prefix(cheap()), 5)])
            .await
            .unwrap();
        assert_eq!(h.dummy_params(), cheap());
        // A class above the ceiling is never chosen, however many hold it.
        h.match_classes(&[
            ("$argon2id$v=19$m=4194304,t=1,p=1".into(), 100),
            (prefix(class), 1),
        ])
        .await
        .unwrap();
        assert_eq!(h.dummy_params(), class);
        // Unknown users still fail.
        assert!(
            !h.verify(Password("latchkey-dummy-password".into()), None)
                .await
                .unwrap()
        );
    }

    #[test]
    fn phc_strings_interoperate_with_the_stock_hasher() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let mut engine = Engine::new(cheap()).unwrap();
        let ours = engine.hash(b"pw").unwrap();
        let stock = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        );
        assert!(
            stock
                .verify_password(b"pw", &PasswordHash::new(&ours).unwrap())
                .is_ok()
        );
        let salt = SaltString::generate(&mut OsRng);
        let theirs = stock.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(engine.verify(b"pw", &theirs).unwrap());
        assert!(!engine.verify(b"px", &theirs).unwrap());
        // A stored hash with other (larger) parameters still verifies.
        let mut big = Engine::new(HashParams {
            m_cost: 256,
            t_cost: 2,
            p_cost: 1,
        })
        .unwrap();
        let other = big.hash(b"pw").unwrap();
        assert!(engine.verify(b"pw", &other).unwrap());
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_at_lower_priority() {
        let h = Hasher::new(cheap(), 2, 0).unwrap();
        // A finished job proves a worker has started; a hashing thread takes its name only
        // after lowering its priority, so other tests' workers still starting are not seen.
        h.hash(Password("pw".into())).await.unwrap();
        let mut nices = Vec::new();
        for entry in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            if stat.contains("(latchkey-hash-") {
                // Field 19 (nice) counted after the ")" closing the thread name.
                let fields: Vec<&str> = stat
                    .rsplit(')')
                    .next()
                    .unwrap()
                    .split_whitespace()
                    .collect();
                nices.push(fields[16].to_owned());
            }
        }
        assert!(!nices.is_empty());
        assert!(nices.iter().all(|n| n == "10"), "{nices:?}");
    }
}
