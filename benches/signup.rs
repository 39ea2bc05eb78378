//! Signup and token benchmarks (not tests): `cargo bench --bench signup -- [--store
//! sqlite|postgres] [--seconds N] [--concurrency N] [--mode saturate|scale|pool|tokens|import]
//! [--only logins,timing,cc,refresh,userinfo,browser,silent,reset,sender] [--users N]`.
//! `import` is in `import.rs`.
//!
//! `saturate` (default): alternates windows of raw Argon2id hashing on the server's worker
//! count with windows of signups driven at a started server by `wrk` (Debian package `wrk`;
//! `--concurrency` connections), then overloads it from an in-process client; prints signups/s,
//! p50/p99 latency, CPU per signup, signups/s ÷ hashes/s (median over the signup windows, each
//! against the raw windows either side) and the latency of 429 answers.
//! `scale`: with policy `none` and a cheap hash, measures the non-hash cost of a signup with
//! 1k users stored, then with 1M users stored (seeded in bulk with one precomputed hash).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod import;
mod management;
mod tokens;

/// The server's allocator (see `src/main.rs`), so the in-process server and the raw loops
/// run on what the binary runs.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use latchkey::cli::ServeArgs;
use latchkey::domain::store::{TenantStore, UserStore};
use latchkey::startup::{Application, Dependencies};
use serde_json::json;
use sqlx::Connection as _;

struct Opts {
    store: String,
    seconds: u64,
    concurrency: Option<usize>,
    mode: String,
    /// Overload floods after the saturation windows (`--mode overload`: the only phase).
    floods: usize,
    /// `--mode tokens` only: the phases to run (comma-separated), all when empty.
    only: String,
    /// `--mode import` only: how many users the file has.
    users: usize,
    /// `--mode tokens` only: the users are signed up by a server hashing at this Argon2 m
    /// (t=1), and the measured server starts with the defaults: the timing phase after a cost
    /// raise.
    stored_m_cost: Option<u32>,
}

fn opts() -> Opts {
    let mut o = Opts {
        store: "sqlite".into(),
        seconds: 15,
        concurrency: None,
        mode: "saturate".into(),
        floods: 5,
        only: String::new(),
        users: 1_000_000,
        stored_m_cost: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--store" => o.store = value,
            "--seconds" => o.seconds = value.parse().expect("--seconds N"),
            "--concurrency" => o.concurrency = Some(value.parse().expect("--concurrency N")),
            "--mode" => o.mode = value,
            "--stored-m-cost" => o.stored_m_cost = Some(value.parse().expect("--stored-m-cost N")),
            "--floods" => o.floods = value.parse().expect("--floods N"),
            "--only" => o.only = value,
            "--users" => o.users = value.parse().expect("--users N"),
            "--bench" => {
                i += 1;
                continue;
            }
            _ => {}
        }
        i += 2;
    }
    o
}

const TENANT: &str = "
clients:
  - name: Bench
    client_id: bench-client
connections:
  - name: bench
    enabled_clients: [Bench]
    options: { passwordPolicy: good }
  - name: plain
    enabled_clients: [Bench]
    options: { passwordPolicy: none }
";

async fn database_url(store: &str, dir: &std::path::Path) -> String {
    database_url_named(store, dir, "bench").await
}

async fn database_url_named(store: &str, dir: &std::path::Path, label: &str) -> String {
    match store {
        "sqlite" => format!("sqlite://{}", dir.join(format!("{label}.db")).display()),
        "postgres" => {
            let base = std::env::var("LATCHKEY_TEST_POSTGRES")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
            let name = format!("lk_{label}_{}", std::process::id());
            let mut admin = sqlx::PgConnection::connect(&format!("{base}/postgres"))
                .await
                .expect("PostgreSQL reachable");
            let _ = sqlx::Executor::execute(
                &mut admin,
                format!("DROP DATABASE IF EXISTS {name}").as_str(),
            )
            .await;
            sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str())
                .await
                .unwrap();
            format!("{base}/{name}")
        }
        other => panic!("unknown store {other}"),
    }
}

/// Hashes/s with `workers` threads hashing in parallel for `secs` (OWASP parameters), each
/// thread reusing its Argon2 memory (`Engine`, exactly what the server's workers run), or with
/// the library's plain `hash_password` (allocating per hash) when `plain`.
fn raw_hash_rate(workers: usize, secs: f64) -> f64 {
    hash_rate(workers, secs, false)
}

fn hash_rate(workers: usize, secs: f64, plain: bool) -> f64 {
    raw_rate(workers, secs, hash_work(plain))
}

/// One OWASP-parameter hash per call: through `Engine` (per-thread reused memory, exactly what
/// the server's workers run), or through the library's plain `hash_password` when `plain`.
fn hash_work(plain: bool) -> Arc<dyn Fn() + Send + Sync> {
    if !plain {
        return engine_work(|engine| {
            engine.hash(b"Passw0rd!").unwrap();
        });
    }
    let argon = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19_456, 2, 1, None).unwrap(),
    );
    Arc::new(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        argon.hash_password(b"Passw0rd!", &salt).unwrap();
    })
}

/// `work` run with this thread's own `Engine` (OWASP parameters), kept between calls as the
/// server's hashing threads keep theirs.
fn engine_work(
    work: impl Fn(&mut latchkey::infra::hasher::Engine) + Send + Sync + 'static,
) -> Arc<dyn Fn() + Send + Sync> {
    use latchkey::infra::hasher::{Engine, HashParams};
    thread_local!(static ENGINE: std::cell::RefCell<Option<Engine>> = const { std::cell::RefCell::new(None) });
    Arc::new(move || {
        ENGINE.with(|e| {
            let mut e = e.borrow_mut();
            work(e.get_or_insert_with(|| Engine::new(HashParams::default()).unwrap()));
        })
    })
}

/// Runs `work` on `workers` threads for `secs`; returns operations per second.
fn raw_rate(workers: usize, secs: f64, work: Arc<dyn Fn() + Send + Sync>) -> f64 {
    let count = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let count = count.clone();
            let work = work.clone();
            std::thread::spawn(move || {
                while Instant::now() < deadline {
                    work();
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// CPU seconds used so far by this process's threads whose name starts with `prefix`.
fn thread_cpu_seconds(prefix: &str) -> f64 {
    let mut total = 0.0;
    for entry in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let name = stat
            .split('(')
            .nth(1)
            .and_then(|r| r.split(')').next())
            .unwrap_or("");
        if name.starts_with(prefix) {
            let rest = stat.rsplit(')').next().unwrap_or("");
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            total += (ticks(11) + ticks(12)) / 100.0;
        }
    }
    total
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Server {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts latchkey on its own runtime (2 worker threads) in a thread of its own, so the client
/// and server do not share a scheduler.
fn start_server(url: &str, dir: &std::path::Path, extra: &[&str]) -> Server {
    let tenant = dir.join("tenant.yaml");
    std::fs::write(&tenant, TENANT).unwrap();
    let mut args = vec![
        "--listen".to_owned(),
        "127.0.0.1:0".into(),
        "--database-url".into(),
        url.into(),
        "--tenant-file".into(),
        tenant.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let settings = ServeArgs::parse_from_args(args).unwrap();
    let (base_tx, base_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = Application::build(settings.config(), Dependencies::default())
                .await
                .unwrap();
            base_tx.send(app.base_url()).unwrap();
            app.run(async {
                let _ = stop_rx.await;
            })
            .await
            .unwrap();
        });
    });
    Server {
        base: base_rx.recv().unwrap(),
        stop: Some(stop_tx),
        thread: Some(thread),
        url: url.to_owned(),
    }
}

struct Outcome {
    other: Vec<u16>,
    ok_latency: Vec<Duration>,
    refused_latency: Vec<Duration>,
    elapsed: Duration,
}

impl Outcome {
    /// Sorts (status, latency) pairs into 200s, 429s and anything else.
    fn tally(results: impl IntoIterator<Item = (u16, Duration)>, elapsed: Duration) -> Self {
        let mut o = Outcome {
            other: vec![],
            ok_latency: vec![],
            refused_latency: vec![],
            elapsed,
        };
        for (status, took) in results {
            match status {
                200 => o.ok_latency.push(took),
                429 => o.refused_latency.push(took),
                s => o.other.push(s),
            }
        }
        o.ok_latency.sort();
        o.refused_latency.sort();
        o
    }

    /// Waits for client tasks, each yielding its (status, latency) pairs, and tallies them.
    async fn gather(
        tasks: Vec<tokio::task::JoinHandle<Vec<(u16, Duration)>>>,
        start: Instant,
    ) -> Self {
        let mut results = Vec::new();
        for t in tasks {
            results.extend(t.await.unwrap());
        }
        Self::tally(results, start.elapsed())
    }
}

/// `concurrency` loops each signing up fresh users until `secs` have passed.
async fn drive(base: &str, connection: &str, concurrency: usize, secs: f64, tag: &str) -> Outcome {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let url = format!("{base}/dbconnections/signup");
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|t| {
            let http = http.clone();
            let url = url.clone();
            let connection = connection.to_owned();
            let tag = tag.to_owned();
            tokio::spawn(async move {
                let mut out = Vec::new();
                let mut i = 0;
                while Instant::now() < deadline {
                    let body = json!({"client_id": "bench-client", "connection": connection,
                        "email": format!("{tag}-{t}-{i}@example.com"), "password": "Passw0rd!"});
                    let sent = Instant::now();
                    let resp = http.post(&url).json(&body).send().await.unwrap();
                    let status = resp.status().as_u16();
                    let _ = resp.bytes().await;
                    out.push((status, sent.elapsed()));
                    i += 1;
                }
                out
            })
        })
        .collect();
    Outcome::gather(tasks, start).await
}

async fn saturate(o: &Opts) {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(&o.store, dir.path()).await;
    let server = start_server(&url, dir.path(), &[]);
    let concurrency = o.concurrency.unwrap_or(workers * 4);
    println!(
        "store: {}  workers: {workers}  client concurrency: {concurrency}  seconds: {}",
        o.store, o.seconds
    );

    // Warm-up (connections, page cache); then alternating windows of raw hashing and of
    // signups, so that drift in the machine's speed weighs on both sides equally. The load
    // comes from wrk, a separate C process (the in-process client it replaces took ~0.5 ms of
    // the shared cores per signup); each request signs up a fresh email.
    drive(&server.base, "bench", concurrency, 2.0, "warm").await;
    // Windows of whole seconds (wrk's unit), about 4 s, at least six of each kind.
    let rounds = (o.seconds as usize / 4).max(6);
    let window = (o.seconds as f64 / rounds as f64).round().max(1.0);
    let script = r#"local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
n = 0
local run = tostring(os.time()) .. tostring(math.random(1000000))
function request()
  n = n + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"},
    '{"client_id":"bench-client","connection":"bench","password":"Passw0rd!","email":"r' .. run
      .. "-" .. tid .. "-" .. n .. '@example.com"}')
end
"#;
    let hash = hash_work(false);
    let hash_cpu0 = thread_cpu_seconds("latchkey-hash");
    let a = tokens::alternate(
        std::process::id(),
        rounds,
        window,
        workers,
        hash,
        &format!("{}/dbconnections/signup", server.base),
        script,
        1,
        concurrency,
    )
    .await;
    let hash_cpu = thread_cpu_seconds("latchkey-hash") - hash_cpu0;
    let (hashes, signups) = (a.raw, a.load);
    println!("raw argon2id hashes/s ({workers} threads, median of {rounds} windows): {hashes:.1}");
    println!("signups/s (median of {rounds} windows of {window} s): {signups:.1}");
    println!(
        "  {} (this process is the server; the hashing threads took {:.2} of {workers} cores)",
        a.cpu,
        hash_cpu / (rounds as f64 * window)
    );
    println!(
        "latency p50: {:.1} ms  p99: {:.1} ms  p99/p50: {:.2}",
        a.p50_ms,
        a.p99_ms,
        a.p99_ms / a.p50_ms
    );
    println!(
        "ratio signups/s / hashes/s: {:.3} (windows {:.3}–{:.3})",
        a.ratio, a.ratio_range.0, a.ratio_range.1
    );

    floods(&server.base, workers, o.floods).await;
    let _ = server.url.len();
}

/// `--mode overload`: only the overload floods, `--floods` of them, on a fresh server.
async fn overload_only(o: &Opts) {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(&o.store, dir.path()).await;
    let server = start_server(&url, dir.path(), &[]);
    println!("store: {}  workers: {workers}", o.store);
    drive(&server.base, "bench", workers * 4, 2.0, "warm").await;
    floods(&server.base, workers, o.floods).await;
}

/// `count` overload floods one after another, each once the previous one's admitted signups
/// are done: four times as many clients as the hashing pool admits (workers + queue), each
/// sending 3 signups; the excess must be refused at once. Prints each flood's 429 latencies,
/// then those of all floods together.
async fn floods(base: &str, workers: usize, count: usize) {
    let capacity = workers + 16 * workers;
    let clients = capacity * 4;
    let (mut ok, mut refused) = (0, Vec::new());
    for round in 0..count {
        hashing_idle().await;
        let (base, tag) = (base.to_owned(), format!("flood{round}"));
        let over = tokio::task::spawn_blocking(move || raw_flood(&base, clients, 3, &tag))
            .await
            .unwrap();
        assert!(
            over.other.is_empty(),
            "unexpected statuses: {:?}",
            over.other
        );
        println!(
            "overload flood {}: {clients} clients x 3 requests: {} ok, {} answered 429; 429 latency p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            round + 1,
            over.ok_latency.len(),
            over.refused_latency.len(),
            ms(percentile(&over.refused_latency, 0.50)),
            ms(percentile(&over.refused_latency, 0.99)),
            ms(over.refused_latency.last().copied().unwrap_or_default())
        );
        ok += over.ok_latency.len();
        refused.extend(over.refused_latency);
    }
    refused.sort();
    println!(
        "overload, {count} floods: {ok} ok, {} answered 429; 429 latency p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        refused.len(),
        ms(percentile(&refused, 0.50)),
        ms(percentile(&refused, 0.99)),
        ms(refused.last().copied().unwrap_or_default())
    );
}

/// Waits until this process's hashing threads have been idle for 100 ms (a flood's admitted
/// signups are done), at most 10 s.
async fn hashing_idle() {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = thread_cpu_seconds("latchkey-hash");
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = thread_cpu_seconds("latchkey-hash");
        if now == last {
            return;
        }
        last = now;
    }
}

/// The overload flood with a minimal client: `clients` raw keep-alive connections on one
/// thread, each sending `per_client` signups one after another, so the client's own work on
/// the shared cores stays small (reqwest's client costs as much per request as the server's
/// 429). Each latency runs from writing the request (or from connecting, for the first) to
/// having read the whole response.
fn raw_flood(base: &str, clients: usize, per_client: usize, tag: &str) -> Outcome {
    use tokio::io::AsyncWriteExt;
    let addr = base.trim_start_matches("http://").to_owned();
    let tag = tag.to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let start = Instant::now();
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                let addr = addr.clone();
                let tag = tag.clone();
                tokio::spawn(async move {
                    let mut results = Vec::new();
                    let t0 = Instant::now();
                    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
                    stream.set_nodelay(true).unwrap();
                    let mut buf = Vec::with_capacity(4096);
                    for i in 0..per_client {
                        let body = format!(
                            r#"{{"client_id":"bench-client","connection":"bench","password":"Passw0rd!","email":"{tag}-{c}-{i}@example.com"}}"#
                        );
                        let req = format!(
                            "POST /dbconnections/signup HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        let sent = if i == 0 { t0 } else { Instant::now() };
                        stream.write_all(req.as_bytes()).await.unwrap();
                        let status = read_response(&mut stream, &mut buf).await;
                        results.push((status, sent.elapsed()));
                    }
                    results
                })
            })
            .collect();
        Outcome::gather(tasks, start).await
    })
}

/// Reads one HTTP/1.1 response (its body sized by `Content-Length`) into `buf`; returns its
/// status.
async fn read_response(stream: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> u16 {
    use tokio::io::AsyncReadExt;
    buf.clear();
    // (status, length of head and body) once the head is in.
    let mut head: Option<(u16, usize)> = None;
    loop {
        if let Some((status, total)) = head
            && buf.len() >= total
        {
            return status;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
        if head.is_none()
            && let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n")
        {
            let text = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let status: u16 = text[9..12].parse().unwrap();
            let len: usize = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            head = Some((status, end + 4 + len));
        }
    }
}

/// Adds users `from..to` to connection `plain` in bulk, all with one precomputed hash. The SQL
/// (a recursive CTE) is the same on SQLite and PostgreSQL.
async fn seed(url: &str, from: i64, to: i64) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    let hash = latchkey::infra::hasher::Engine::new(latchkey::infra::hasher::HashParams::default())
        .unwrap()
        .hash(b"Seeded-Passw0rd")
        .unwrap();
    let batch = 100_000;
    let mut start = from;
    while start < to {
        let end = (start + batch).min(to) - 1;
        sqlx::query(
            "INSERT INTO users (id, connection, email, password_hash, created_at, updated_at) \
             WITH RECURSIVE n(i) AS (SELECT CAST($1 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < $2) \
             SELECT 'seed' || CAST(i AS TEXT), 'plain', 'seed' || CAST(i AS TEXT) || '@example.com', $3, 0, 0 FROM n",
        )
        .bind(start)
        .bind(end)
        .bind(&hash)
        .execute(&pool)
        .await
        .unwrap();
        start = end + 1;
    }
    // Measure a settled database, as in steady operation: fresh planner statistics and no
    // checkpoint of the bulk load still pending.
    let settle: &[&str] = if url.starts_with("sqlite") {
        &["ANALYZE", "PRAGMA wal_checkpoint(TRUNCATE)"]
    } else {
        &[
            "VACUUM ANALYZE users",
            "VACUUM ANALYZE password_history",
            "CHECKPOINT",
        ]
    };
    for stmt in settle {
        sqlx::query(stmt).execute(&pool).await.unwrap();
    }
    pool.close().await;
}

/// Non-hash cost of one signup, one window: sequential signups (concurrency 1) on connection
/// `plain` (policy none) with the cheapest Argon2 setting, then the same store calls timed alone.
async fn non_hash_window(
    base: &str,
    store: &latchkey::store::SqlStore,
    tag: &str,
    secs: f64,
) -> (f64, f64) {
    let run = drive(base, "plain", 1, secs, tag).await;
    let per_signup = run.elapsed.as_secs_f64() / run.ok_latency.len() as f64;
    let n = 100;
    let start = Instant::now();
    for i in 0..n {
        store
            .client_with_connection("bench-client", "plain")
            .await
            .unwrap();
        let now = latchkey::domain::ports::Clock::now_millis(&latchkey::infra::clock::SystemClock);
        store
            .create_user(&latchkey::domain::user::NewUser {
                id: latchkey::domain::user::new_user_id(now),
                connection: "plain".into(),
                email: format!("{tag}-direct-{i}@example.com"),
                username: None,
                email_verified: false,
                profile: Default::default(),
                user_metadata: Default::default(),
                password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
                    .into(),
                created_at: now,
            })
            .await
            .unwrap();
    }
    (per_signup, start.elapsed().as_secs_f64() / n as f64)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Two databases side by side, ~1k and ~1M users, each behind its own server; measurement
/// windows alternate between them so that drift (disk flush latency above all) weighs on both.
async fn scale(o: &Opts) {
    let dir = tempfile::tempdir().unwrap();
    let windows = 9;
    let secs = (o.seconds as f64).max(9.0) / windows as f64;
    let cheap = ["--argon2-m-cost", "8", "--argon2-t-cost", "1"];
    println!(
        "store: {}  (policy none, Argon2 m=8 t=1, one client; medians of {windows} alternating windows of {secs:.1} s)",
        o.store
    );
    let mut sides = Vec::new();
    for (label, users) in [("small", 1_000i64), ("large", 1_000_000)] {
        let sub = dir.path().join(label);
        std::fs::create_dir_all(&sub).unwrap();
        let url = database_url_named(&o.store, &sub, label).await;
        let server = start_server(&url, &sub, &cheap);
        let t = Instant::now();
        seed(&url, 0, users).await;
        let seeded = t.elapsed().as_secs_f64();
        let store = latchkey::store::SqlStore::connect(&url, &Default::default())
            .await
            .unwrap();
        drive(&server.base, "plain", 1, 1.0, &format!("warm-{label}")).await;
        sides.push((label, server, store, seeded, Vec::new(), Vec::new()));
    }
    for w in 0..windows {
        for (label, server, store, _, total, store_part) in sides.iter_mut() {
            let (t, s) = non_hash_window(&server.base, store, &format!("{label}{w}"), secs).await;
            total.push(t);
            store_part.push(s);
        }
    }
    let mut costs = Vec::new();
    for (_, _, store, seeded, total, store_part) in sides {
        let users = store.count_users("plain").await.unwrap();
        let (t, s) = (median(total), median(store_part));
        println!(
            "{users:>9} users: {:.0} µs per signup, store calls {:.0} µs ({:.0} % of it)  [seeded in {seeded:.1} s]",
            t * 1e6,
            s * 1e6,
            100.0 * s / t
        );
        costs.push(t);
        store.close().await;
    }
    println!("cost at 1M / cost at 1k: {:.3}", costs[1] / costs[0]);
}

/// Hash rate through latchkey's own `Hasher` (bounded pool), without HTTP or a database.
async fn pool(o: &Opts) {
    use latchkey::infra::hasher::{HashParams, Hasher, Password};
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let secs = o.seconds as f64;
    let raw = tokio::task::spawn_blocking(move || raw_hash_rate(workers, secs))
        .await
        .unwrap();
    let plain = tokio::task::spawn_blocking(move || hash_rate(workers, secs, true))
        .await
        .unwrap();
    println!("plain argon2 hash_password hashes/s (allocating per hash): {plain:.1}");
    let hasher = Hasher::new(HashParams::default(), workers, 64).unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let tasks: Vec<_> = (0..workers * 4)
        .map(|_| {
            let hasher = hasher.clone();
            let count = count.clone();
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    hasher.hash(Password("Passw0rd!".into())).await.unwrap();
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let pooled = count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    println!(
        "raw hashes/s: {raw:.1}  pooled hashes/s: {pooled:.1}  ratio: {:.3}",
        pooled / raw
    );
}

fn main() {
    let o = opts();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        match o.mode.as_str() {
            "saturate" => saturate(&o).await,
            "pool" => pool(&o).await,
            "overload" => overload_only(&o).await,
            "scale" => scale(&o).await,
            "tokens" => tokens::tokens(&o).await,
            "import" => import::import(&o).await,
            "management" => management::management(&o).await,
            other => panic!("unknown mode {other}"),
        }
    });
}
