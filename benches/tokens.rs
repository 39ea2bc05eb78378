//! Login and token benchmarks (`--mode tokens`), against the real `latchkey` binary started as a
//! child process (so its memory can be read apart from the load generator's). The load comes
//! from `wrk` (Debian package `wrk`), a C load generator, so that the client takes little of
//! the cores it shares with the server; raw rates are measured in-process on the same cores:
//! - password logins/s ÷ the raw cost of a login (one Argon2id verification and the two RS256
//!   signatures it issues), in alternating windows;
//! - unknown-user vs wrong-password response time (medians), sequentially;
//! - client_credentials grants/s ÷ raw RS256 signatures/s, in alternating windows;
//! - refresh grants/s and `/userinfo`/s;
//! - browser-style logins (GET `/authorize` → GET the login page → POST it → code →
//!   `/oauth/token`)/s ÷ the raw cost of one Argon2id verification and the two RS256
//!   signatures (access token, id_token) a login issues, in alternating windows;
//! - silent authentication with a session (`prompt=none` → code)/s, with p50 and p99;
//! - `change_password`/s (unknown emails, each new, so the per-email limit never applies) and
//!   the medians of known against unknown emails, sequentially;
//! - the server's RSS idle and its peak under all of the above;
//! - the outbox sender's messages/s to a local SMTP server ÷ the same SMTP sends alone.

use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::{Opts, database_url, engine_work, median, ms, raw_rate};

/// The benchmarks' tenant (the import bench uses it too).
pub(super) const TENANT: &str = "
tenant:
  default_directory: db
  indexed_app_metadata: [plan]
clients:
  - name: Bench
    client_id: bench-client
    client_secret: bench-secret
  - name: Bench SPA
    client_id: bench-spa
    app_type: spa
    callbacks: [\"http://bench.example/cb\"]
client_grants:
  - client_id: Bench
    audience: management
    scope: [read:users]
connections:
  - name: db
    enabled_clients: [Bench, Bench SPA]
    options: { passwordPolicy: none }
";
/// PKCE of the browser-style phases: every login uses the same pair (the server cannot tell).
const VERIFIER: &str = "bench-verifier-bench-verifier-bench-verifier-0123";
const CALLBACK: &str = "http%3A%2F%2Fbench.example%2Fcb";
const SECRET: &str = "bench-secret";
const REALM: &str = "http://auth0.com/oauth/grant-type/password-realm";

pub(super) struct ServerProcess {
    pub(super) child: Child,
    pub(super) base: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server binary: LATCHKEY_BENCH_BIN runs another build (to compare two commits side by
/// side).
pub(super) fn bin() -> String {
    std::env::var("LATCHKEY_BENCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_latchkey").to_owned())
}

/// Starts `latchkey serve` with the benchmarks' tenant on `url`.
pub(super) fn start(url: &str, dir: &std::path::Path) -> ServerProcess {
    start_with(url, dir, &[])
}

/// `start` with more arguments for `latchkey serve`.
pub(super) fn start_with(url: &str, dir: &std::path::Path, extra: &[&str]) -> ServerProcess {
    let tenant = dir.join("tenant.yaml");
    std::fs::write(&tenant, TENANT).unwrap();
    let mut child = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", url])
        // The benchmarks measure the server, not its per-client Management API limit.
        .args(["--management-rate-limit", "0"])
        .arg("--tenant-file")
        .arg(&tenant)
        .args(["--log-format", "json"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let base = loop {
        let line = lines.next().expect("server printed its address").unwrap();
        if let Some(rest) = line.strip_prefix("latchkey listening on ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    ServerProcess { child, base }
}

/// (VmRSS, VmHWM) of a process, in MiB.
fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU milliseconds used so far by the threads of process `pid` whose name starts with `prefix`.
fn threads_cpu_ms(pid: u32, prefix: &str) -> f64 {
    let mut total = 0.0;
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))
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
            let f: Vec<f64> = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .map(|v| v.parse().unwrap_or(0.0))
                .collect();
            total += (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) * 10.0;
        }
    }
    total
}

/// What one `wrk` run reports, with the CPU time spent per request during it.
struct Wrk {
    rate: f64,
    non_2xx: u64,
    p50_ms: f64,
    p99_ms: f64,
    cpu: Cpu,
}

/// CPU milliseconds: the server process's, the load generator's (this process's waited-for
/// children) and the whole machine's busy time (which adds database processes and the kernel's
/// own threads, e.g. block I/O).
#[derive(Clone, Copy, Default)]
pub(super) struct Cpu {
    server: f64,
    load: f64,
    machine: f64,
}

impl Cpu {
    fn now(pid: u32) -> Self {
        // Clock ticks of 10 ms (USER_HZ = 100). Fields after the parenthesised command name:
        // utime, stime, cutime, cstime are the 12th to 15th.
        let proc_ticks = |path: &str, fields: [usize; 2]| {
            let stat = std::fs::read_to_string(path).unwrap_or_default();
            let rest: Vec<f64> = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .map(|v| v.parse().unwrap_or(0.0))
                .collect();
            fields
                .iter()
                .map(|&i| rest.get(i).copied().unwrap_or(0.0))
                .sum::<f64>()
                * 10.0
        };
        let machine = std::fs::read_to_string("/proc/stat")
            .unwrap_or_default()
            .lines()
            .next()
            .map(|l| {
                let v: Vec<f64> = l
                    .split_whitespace()
                    .skip(1)
                    .map(|x| x.parse().unwrap_or(0.0))
                    .collect();
                // user nice system idle iowait irq softirq steal: busy is all but idle, iowait
                // and steal (time the hypervisor gave to someone else).
                v.iter().take(8).sum::<f64>()
                    - v.get(3).unwrap_or(&0.0)
                    - v.get(4).unwrap_or(&0.0)
                    - v.get(7).unwrap_or(&0.0)
            })
            .unwrap_or(0.0)
            * 10.0;
        Self {
            server: proc_ticks(&format!("/proc/{pid}/stat"), [11, 12]),
            load: proc_ticks("/proc/self/stat", [13, 14]),
            machine,
        }
    }

    /// CPU per operation between two snapshots.
    fn per(self, later: Cpu, operations: f64) -> Cpu {
        let n = operations.max(1.0);
        Cpu {
            server: (later.server - self.server) / n,
            load: (later.load - self.load) / n,
            machine: (later.machine - self.machine) / n,
        }
    }
}

impl std::fmt::Display for Cpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CPU per request: server {:.3} ms, wrk {:.3} ms, rest of the machine {:.3} ms",
            self.server,
            self.load,
            (self.machine - self.server - self.load).max(0.0)
        )
    }
}

fn wrk_ms(text: &str, label: &str) -> f64 {
    let v = text
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("0ms");
    let (num, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (v, 1.0)
    };
    num.parse::<f64>().unwrap_or(0.0) * scale
}

/// Runs `wrk` with a Lua `script` against `url`: `threads` threads, `connections` connections.
async fn wrk(
    pid: u32,
    url: &str,
    script: &str,
    threads: usize,
    connections: usize,
    secs: f64,
) -> Wrk {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("load.lua");
    std::fs::write(&path, script).unwrap();
    let before = Cpu::now(pid);
    let out = tokio::process::Command::new("wrk")
        .args([
            "--latency",
            "-t",
            &threads.to_string(),
            "-c",
            &connections.to_string(),
            "-d",
            &format!("{}s", secs.round().max(1.0)),
            "-s",
        ])
        .arg(&path)
        .arg(url)
        .output()
        .await
        .expect("wrk is needed for --mode tokens (apt-get install wrk)");
    let after = Cpu::now(pid);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    // "  12345 requests in 10.00s, 1.2MB read"
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    let field = |prefix: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .and_then(|l| l.split(':').nth(1))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Wrk {
        rate: field("Requests/sec"),
        non_2xx: field("Non-2xx or 3xx responses") as u64,
        p50_ms: wrk_ms(&text, "50%"),
        p99_ms: wrk_ms(&text, "99%"),
        cpu: before.per(after, requests),
    }
}

/// A wrk script POSTing a form body built by the Lua expression `body` (which may use the
/// per-thread `tid` and the per-thread request counter `n`).
fn form_script(body: &str) -> String {
    format!(
        r#"local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
n = 0
function request()
  n = n + 1
  return wrk.format("POST", nil, {{["Content-Type"] = "application/x-www-form-urlencoded"}}, {body})
end
"#
    )
}

/// Waits (at most 3 s) until the server has used at most one clock tick of CPU in 100 ms, so
/// that requests a load window left in flight do not run into the next raw window.
async fn settle(pid: u32) {
    let deadline = Instant::now() + std::time::Duration::from_secs(3);
    let mut last = Cpu::now(pid).server;
    while Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let now = Cpu::now(pid).server;
        if now - last <= 10.0 {
            return;
        }
        last = now;
    }
}

/// Medians of alternating windows: raw work on the cores, then the server under wrk load.
pub(super) struct Alternated {
    pub(super) raw: f64,
    pub(super) load: f64,
    pub(super) p50_ms: f64,
    pub(super) p99_ms: f64,
    /// Mean over the load windows.
    pub(super) cpu: Cpu,
    /// Median over the load windows of load ÷ the mean of the raw windows either side of it:
    /// each load window is compared with the machine as it was just before and just after.
    pub(super) ratio: f64,
    /// The lowest and highest of those per-window ratios: how much the machine moved.
    pub(super) ratio_range: (f64, f64),
}

/// Alternates `rounds` windows of `work` on `workers` threads with windows of `wrk` running
/// `script` against `url`, so that drift in the machine's speed weighs on both sides.
#[allow(clippy::too_many_arguments)]
pub(super) async fn alternate(
    pid: u32,
    rounds: usize,
    window: f64,
    workers: usize,
    work: Arc<dyn Fn() + Send + Sync>,
    url: &str,
    script: &str,
    threads: usize,
    connections: usize,
) -> Alternated {
    let (mut raw, mut load, mut p50, mut p99) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut cpu = Cpu::default();
    let raw_window = |work: Arc<dyn Fn() + Send + Sync>| async move {
        tokio::task::spawn_blocking(move || raw_rate(workers, window, work))
            .await
            .unwrap()
    };
    for _ in 0..rounds {
        raw.push(raw_window(work.clone()).await);
        let w = wrk(pid, url, script, threads, connections, window).await;
        settle(pid).await;
        assert_eq!(w.non_2xx, 0, "failed requests under load");
        let k = rounds as f64;
        cpu.server += w.cpu.server / k;
        cpu.load += w.cpu.load / k;
        cpu.machine += w.cpu.machine / k;
        load.push(w.rate);
        p50.push(w.p50_ms);
        p99.push(w.p99_ms);
    }
    raw.push(raw_window(work).await);
    let ratios: Vec<f64> = load
        .iter()
        .enumerate()
        .map(|(i, l)| l / ((raw[i] + raw[i + 1]) / 2.0))
        .collect();
    let ratio_range = ratios
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
            (lo.min(*r), hi.max(*r))
        });
    Alternated {
        ratio_range,
        ratio: median(ratios),
        raw: median(raw),
        load: median(load),
        p50_ms: median(p50),
        p99_ms: median(p99),
        cpu,
    }
}

async fn post(http: &reqwest::Client, url: &str, body: &Value) -> (u16, Value) {
    let resp = http.post(url).json(body).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn login_body(email: &str, password: &str, scope: &str) -> Value {
    json!({"grant_type": REALM, "client_id": "bench-client", "client_secret": SECRET,
        "realm": "db", "username": email, "password": password, "scope": scope})
}

/// The raw work of one login, run on this thread's own engine: an Argon2id verification of
/// `phc` and RS256 signatures of an access token and an id_token like the server's (with the
/// server's signer, `infra::jws`).
fn login_work(base: &str, phc: String) -> Arc<dyn Fn() + Send + Sync> {
    latchkey::infra::jws::install();
    let key = latchkey::infra::keys::generate(0).unwrap();
    let encoding = Arc::new(EncodingKey::from_rsa_pem(key.private_pem.as_bytes()).unwrap());
    let sub = "auth0|0123456789abcdef01234567";
    let id_claims = json!({"iss": format!("{base}/"), "aud": "bench-client", "iat": 1, "exp": 2,
        "nonce": "n", "auth_time": 1, "sid": "s", "sub": sub, "nickname": "user0",
        "name": "user0@example.com", "updated_at": "2026-01-01T00:00:00.000Z",
        "email": "user0@example.com", "email_verified": false});
    let access_claims = json!({"iss": format!("{base}/"), "sub": sub,
        "aud": [format!("{base}/userinfo")], "iat": 1, "exp": 2, "scope": "openid profile email",
        "azp": "bench-client"});
    engine_work(move |engine| {
        assert!(engine.verify(b"Passw0rd!", &phc).unwrap());
        for claims in [&access_claims, &id_claims] {
            let mut h = Header::new(Algorithm::RS256);
            h.kid = Some("k".into());
            jsonwebtoken::encode(&h, claims, &encoding).unwrap();
        }
    })
}

/// `/authorize` for the bench SPA with PKCE, plus `extra` parameters.
fn authorize_path(extra: &str) -> String {
    let challenge = latchkey::domain::token::pkce_challenge(VERIFIER);
    format!(
        "/authorize?client_id=bench-spa&response_type=code&redirect_uri={CALLBACK}\
         &scope=openid%20profile%20email&code_challenge={challenge}&code_challenge_method=S256{extra}"
    )
}

/// Logs `email` in through the login page as a browser would; returns the session cookie.
async fn browser_login(base: &str, email: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = http
        .get(format!("{base}{}", authorize_path("")))
        .send()
        .await
        .unwrap();
    let page = format!("{base}{}", resp.headers()["location"].to_str().unwrap());
    let resp = http.get(&page).send().await.unwrap();
    let csrf_cookie = resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = resp.text().await.unwrap();
    let token = html
        .split(r#"name="_csrf" value=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&#x2f;", "/");
    let resp = http
        .post(&page)
        .header("cookie", csrf_cookie)
        .form(&[
            ("_csrf", token.as_str()),
            ("username", email),
            ("password", "Passw0rd!"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let session = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("auth0="))
        .unwrap();
    session.split(';').next().unwrap().to_owned()
}

async fn signup_users(http: &reqwest::Client, base: &str, n: usize) {
    let url = format!("{base}/dbconnections/signup");
    for chunk in (0..n).collect::<Vec<_>>().chunks(8) {
        let reqs = chunk.iter().map(|i| {
            let body = json!({"client_id": "bench-client", "connection": "db",
                "email": format!("user{i}@example.com"), "password": "Passw0rd!"});
            let (http, url) = (http.clone(), url.clone());
            async move { post(&http, &url, &body).await }
        });
        for r in futures::future::join_all(reqs).await {
            assert_eq!(r.0, 200, "{}", r.1);
        }
    }
}

pub async fn tokens(o: &Opts) {
    use latchkey::infra::hasher::{Engine, HashParams};
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(&o.store, dir.path()).await;
    let users = 64;
    let http = reqwest::Client::new();
    // After a cost raise: the accounts were hashed at a lower cost by an earlier server.
    if let Some(m) = o.stored_m_cost {
        let m = m.to_string();
        let earlier = start_with(
            &url,
            dir.path(),
            &["--argon2-m-cost", &m, "--argon2-t-cost", "1"],
        );
        signup_users(&http, &earlier.base, users).await;
        drop(earlier);
        println!("accounts hashed at m={m}, t=1; the measured server uses the defaults");
    }
    let server = start(&url, dir.path());
    let pid = server.child.id();
    let base = server.base.clone();
    // Idle: started, migrated, keys loaded, nothing served yet.
    let (idle_rss, _) = rss_mib(pid);
    println!(
        "store: {}  cores: {workers}  seconds per measurement: {}",
        o.store, o.seconds
    );

    if o.stored_m_cost.is_none() {
        signup_users(&http, &base, users).await;
    }
    let token_url = format!("{base}/oauth/token");
    let rounds = (o.seconds as usize / 4).max(3);
    let window = o.seconds as f64 / rounds as f64;
    let client = "client_id=bench-client&client_secret=bench-secret";
    let run = |phase: &str| o.only.is_empty() || o.only.split(',').any(|p| p == phase);

    if run("logins") {
        // 1. Logins vs raw verifications, alternating windows. Requests cycle over the users, so
        // no identifier nears the brute-force limit (successes reset it anyway).
        let phc = Engine::new(HashParams::default())
            .unwrap()
            .hash(b"Passw0rd!")
            .unwrap();
        let login_script = form_script(&format!(
            r#""grant_type=password&{client}&password=Passw0rd%21&scope=openid%20profile%20email&username=user" .. ((tid * 7 + n) % {users}) .. "%40example.com""#
        ));
        // The work a login must do: one verification and the two signatures it issues.
        let verify = login_work(&base, phc);
        let l = alternate(
            pid,
            rounds,
            window,
            workers,
            verify,
            &token_url,
            &login_script,
            2,
            workers * 4,
        )
        .await;
        let (rv, lg) = (l.raw, l.load);
        println!(
            "raw cost of a login (1 argon2id verification + 2 RS256 signatures)/s ({workers} threads): {rv:.1}"
        );
        println!(
            "password logins/s (scope openid profile email: id_token + access token): {lg:.1}  p50 {:.0} ms  p99 {:.0} ms",
            l.p50_ms, l.p99_ms
        );
        println!("  {}", l.cpu);
        println!(
            "ratio password logins/s / raw login cost/s: {:.3} (windows {:.3}–{:.3})",
            l.ratio, l.ratio_range.0, l.ratio_range.1
        );
    }
    if run("timing") {
        // 2. Unknown user vs wrong password, one request at a time, interleaved. Unknown emails are
        // all different and wrong passwords spread over the users, so nothing gets blocked.
        let (mut unknown, mut wrong) = (Vec::new(), Vec::new());
        for i in 0..200 {
            let body = login_body(&format!("nobody{i}@example.com"), "Wrong-pass1", "openid");
            let t = Instant::now();
            assert_eq!(post(&http, &token_url, &body).await.0, 403);
            unknown.push(ms(t.elapsed()));
            let body = login_body(
                &format!("user{}@example.com", i % users),
                "Wrong-pass1",
                "openid",
            );
            let t = Instant::now();
            assert_eq!(post(&http, &token_url, &body).await.0, 403);
            wrong.push(ms(t.elapsed()));
        }
        // Successful logins reset the counters the wrong passwords left.
        for i in 0..users {
            let body = login_body(&format!("user{i}@example.com"), "Passw0rd!", "openid");
            post(&http, &token_url, &body).await;
        }
        let (mu, mw) = (median(unknown), median(wrong));
        println!(
            "timing: unknown user median {mu:.2} ms, wrong password median {mw:.2} ms, difference {:.1} %",
            (mu - mw).abs() / mw.max(mu) * 100.0
        );
    }
    if run("cc") {
        // 3. client_credentials vs raw RS256 signatures of the same claims, alternating windows.
        // The server's signer (see `infra::jws`), so raw and served signatures cost the same.
        latchkey::infra::jws::install();
        let key = latchkey::infra::keys::generate(0).unwrap();
        let encoding = Arc::new(EncodingKey::from_rsa_pem(key.private_pem.as_bytes()).unwrap());
        let claims = json!({"iss": format!("{base}/"), "sub": "bench-client@clients",
        "aud": format!("{base}/api/v2/"), "iat": 1, "exp": 2, "scope": "", "azp": "bench-client",
        "gty": "client-credentials"});
        let cc_script = form_script(&format!(
            r#""grant_type=client_credentials&{client}&audience={base}/api/v2/""#
        ));
        let sign = Arc::new(move || {
            let mut h = Header::new(Algorithm::RS256);
            h.kid = Some("k".into());
            jsonwebtoken::encode(&h, &claims, &encoding).unwrap();
        });
        let c = alternate(
            pid,
            rounds,
            window,
            workers,
            sign,
            &token_url,
            &cc_script,
            1,
            workers * 8,
        )
        .await;
        let (rs, cc) = (c.raw, c.load);
        println!("raw RS256 signatures/s ({workers} threads): {rs:.0}");
        println!(
            "client_credentials grants/s: {cc:.0}  p50 {:.1} ms  p99 {:.1} ms",
            c.p50_ms, c.p99_ms
        );
        println!("  {}", c.cpu);
        println!(
            "ratio grants/s / signatures/s: {:.3} (windows {:.3}–{:.3})",
            c.ratio, c.ratio_range.0, c.ratio_range.1
        );
    }
    if run("refresh") {
        // 4. Refresh grants: every connection refreshes a token chain of its own (the newest
        // token from each answer is sent next). Each wrk thread keeps a pool of its chains'
        // newest tokens: an answer puts one back before its connection asks for the next. wrk
        // calls `request()` once before the run to check it, so each thread gets a spare chain.
        let (threads, conns) = (workers, workers * 16);
        for scope in ["offline_access", "openid offline_access"] {
            let mut tokens = Vec::new();
            for t in 0..conns + threads {
                let body = login_body(
                    &format!("user{}@example.com", t % users),
                    "Passw0rd!",
                    scope,
                );
                let (_, body) = post(&http, &token_url, &body).await;
                tokens.push(format!("\"{}\"", body["refresh_token"].as_str().unwrap()));
            }
            let script = format!(
                r#"local tokens = {{{}}}
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
local pool = {{}}
function init(args)
  for i = tid, #tokens, {threads} do pool[#pool + 1] = tokens[i] end
end
function request()
  local token = table.remove(pool) or "exhausted"
  return wrk.format("POST", nil, {{["Content-Type"] = "application/x-www-form-urlencoded"}},
    "grant_type=refresh_token&{client}&refresh_token=" .. token)
end
function response(status, headers, body)
  local t = string.match(body, '"refresh_token":"([^"]+)"')
  if t then pool[#pool + 1] = t end
end
"#,
                tokens.join(",")
            );
            let w = wrk(pid, &token_url, &script, threads, conns, o.seconds as f64).await;
            println!(
                "refresh grants/s (scope {scope}): {:.0}  p50 {:.1} ms  p99 {:.1} ms  (non-2xx: {})",
                w.rate, w.p50_ms, w.p99_ms, w.non_2xx
            );
            println!("  {}", w.cpu);
        }
    }
    if run("userinfo") {
        // 5. /userinfo with valid access tokens of every user, each request the next user's.
        let mut headers = Vec::new();
        for i in 0..users {
            let body = login_body(
                &format!("user{i}@example.com"),
                "Passw0rd!",
                "openid profile email",
            );
            let (_, body) = post(&http, &token_url, &body).await;
            headers.push(format!("\"{}\"", body["access_token"].as_str().unwrap()));
        }
        let script = format!(
            r#"local tokens = {{{}}}
local n = 0
function request()
  n = n % #tokens + 1
  return wrk.format("GET", nil, {{["Authorization"] = "Bearer " .. tokens[n]}}, nil)
end
"#,
            headers.join(",")
        );
        let w = wrk(
            pid,
            &format!("{base}/userinfo"),
            &script,
            1,
            workers * 16,
            o.seconds as f64,
        )
        .await;
        println!(
            "/userinfo/s: {:.0}  p50 {:.2} ms  p99 {:.2} ms  (non-2xx: {})",
            w.rate, w.p50_ms, w.p99_ms, w.non_2xx
        );
        println!("  {}", w.cpu);
    }
    if run("browser") {
        // 6. Browser-style logins: each wrk connection walks the four requests of a login in
        // turn (one connection per thread, so each thread's state is its connection's). The
        // page is forced with prompt=login; the session cookie is never sent back.
        let phc = Engine::new(HashParams::default())
            .unwrap()
            .hash(b"Passw0rd!")
            .unwrap();
        let work = login_work(&base, phc);
        let script = format!(
            r#"local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
local step, location, cookie, csrf, code, n = 0, nil, "", nil, nil, 0
local authorize = "{authorize}"
function request()
  if step == 0 then return wrk.format("GET", authorize) end
  if step == 1 then return wrk.format("GET", location, {{["Cookie"] = cookie}}) end
  if step == 2 then
    n = n + 1
    local body = "_csrf=" .. csrf .. "&username=user" .. ((tid * 7 + n) % {users}) .. "%40example.com&password=Passw0rd%21&action=default"
    return wrk.format("POST", location, {{["Content-Type"] = "application/x-www-form-urlencoded", ["Cookie"] = cookie}}, body)
  end
  return wrk.format("POST", "/oauth/token", {{["Content-Type"] = "application/x-www-form-urlencoded"}},
    "grant_type=authorization_code&client_id=bench-spa&code=" .. code .. "&redirect_uri={CALLBACK}&code_verifier={VERIFIER}")
end
function response(status, headers, body)
  if status >= 400 then step = 0; return end
  if step == 0 then location = headers["location"] or headers["Location"]; step = 1
  elseif step == 1 then
    local sc = headers["set-cookie"] or headers["Set-Cookie"]
    if sc then cookie = string.match(sc, "^([^;]+)") end
    csrf = string.match(body, 'name="_csrf" value="([^"]+)"')
    csrf = csrf:gsub("&#x2f;", "%%2F"):gsub("%+", "%%2B"):gsub("=", "%%3D")
    step = 2
  elseif step == 2 then
    code = string.match(headers["location"] or headers["Location"] or "", "code=([^&]+)")
    step = 3
  else step = 0 end
end
"#,
            authorize = authorize_path("&prompt=login"),
        );
        let conns = workers * 4;
        let hashing_before = threads_cpu_ms(pid, "latchkey-hash");
        let b = alternate(
            pid,
            rounds,
            window,
            workers,
            work,
            &format!("{base}/"),
            &script,
            conns,
            conns,
        )
        .await;
        let hashing = threads_cpu_ms(pid, "latchkey-hash") - hashing_before;
        println!(
            "raw cost of a login (1 argon2id verification + 2 RS256 signatures)/s ({workers} threads): {:.1}",
            b.raw
        );
        println!(
            "browser-style logins/s (4 requests each): {:.1}  request p50 {:.1} ms  p99 {:.1} ms",
            b.load / 4.0,
            b.p50_ms,
            b.p99_ms
        );
        println!("  {} (per request; a login is 4)", b.cpu);
        println!(
            "ratio browser logins/s / raw login cost/s: {:.3} (windows {:.3}–{:.3})",
            b.ratio / 4.0,
            b.ratio_range.0 / 4.0,
            b.ratio_range.1 / 4.0
        );
        // Where the gap to 1.0 goes: one verification on the server's hashing threads, against
        // the same verification alone on the cores.
        let logins = b.load / 4.0 * window * rounds as f64;
        let phc = Engine::new(HashParams::default())
            .unwrap()
            .hash(b"Passw0rd!")
            .unwrap();
        let alone = tokio::task::spawn_blocking(move || {
            raw_rate(
                workers,
                window,
                engine_work(move |e| assert!(e.verify(b"Passw0rd!", &phc).unwrap())),
            )
        })
        .await
        .unwrap();
        println!(
            "one argon2id verification: {:.1} ms of a hashing thread's CPU in the server, {:.1} ms alone ({workers} threads)",
            hashing / logins.max(1.0),
            workers as f64 * 1000.0 / alone
        );
        let (_, peak) = rss_mib(pid);
        println!("server RSS peak so far (through the browser logins): {peak:.1} MiB");
    }
    if run("silent") {
        // 7. Silent authentication: prompt=none with a live session answers a code without a
        // page (a session read and a code write; no hash, no signature).
        let mut cookies = Vec::new();
        for i in 0..users {
            cookies.push(format!(
                "\"{}\"",
                browser_login(&base, &format!("user{i}@example.com")).await
            ));
        }
        let script = format!(
            r#"local cookies = {{{}}}
local n = 0
function request()
  n = n % #cookies + 1
  return wrk.format("GET", "{}", {{["Cookie"] = "auth0=" .. cookies[n]}})
end
function response(status, headers, body)
  if status ~= 302 or not string.find(headers["location"] or headers["Location"] or "", "code=", 1, true) then
    error("silent auth failed: " .. status)
  end
end
"#,
            cookies.join(","),
            authorize_path("&prompt=none")
        );
        // LATCHKEY_BENCH_CONNECTIONS: how many browsers at once (default 16 per core).
        let conns = std::env::var("LATCHKEY_BENCH_CONNECTIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(workers * 16);
        let w = wrk(
            pid,
            &format!("{base}/"),
            &script,
            1,
            conns,
            o.seconds as f64,
        )
        .await;
        println!(
            "silent auth (prompt=none -> code)/s: {:.0}  p50 {:.2} ms  p99 {:.2} ms  p99/p50 {:.2}  (non-2xx/3xx: {})",
            w.rate,
            w.p50_ms,
            w.p99_ms,
            w.p99_ms / w.p50_ms.max(0.001),
            w.non_2xx
        );
        println!("  {}", w.cpu);
    }
    if run("reset") {
        // 8. change_password. Throughput with a new unknown email each request (the limit is
        // per IP and email); then timing, one request at a time, a known user's email
        // interleaved with an unknown one.
        let script = r#"local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
local n = 0
function request()
  n = n + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"},
    '{"client_id":"bench-client","connection":"db","email":"nobody-' .. tid .. '-' .. n .. '@example.com"}')
end
"#;
        let url = format!("{base}/dbconnections/change_password");
        let w = wrk(pid, &url, script, workers, workers * 16, o.seconds as f64).await;
        println!(
            "change_password/s (unknown emails): {:.0}  p50 {:.2} ms  p99 {:.2} ms  (non-2xx: {})",
            w.rate, w.p50_ms, w.p99_ms, w.non_2xx
        );
        println!("  {}", w.cpu);
        let (mut known, mut unknown) = (Vec::new(), Vec::new());
        // Three rounds over the users (each stays within its burst of ten), the order of the
        // pair alternating, so that neither side always follows the other's background work.
        for k in 0..3 * users {
            let i = k % users;
            let mut pair = [
                (true, format!("user{i}@example.com")),
                (false, format!("stranger{k}@example.com")),
            ];
            if k % 2 == 1 {
                pair.reverse();
            }
            for (is_known, email) in pair {
                let list = if is_known { &mut known } else { &mut unknown };
                let body = json!({"client_id": "bench-client", "connection": "db", "email": email});
                let t = Instant::now();
                let r = http.post(&url).json(&body).send().await.unwrap();
                assert_eq!(r.status(), 200);
                r.bytes().await.unwrap();
                list.push(ms(t.elapsed()));
            }
        }
        let (mk, mu) = (median(known), median(unknown));
        println!(
            "change_password timing: known email median {mk:.3} ms, unknown {mu:.3} ms, difference {:.1} %",
            (mk - mu).abs() / mk.max(mu) * 100.0
        );
    }
    let (_, peak) = rss_mib(pid);
    println!("server RSS: idle {idle_rss:.1} MiB at start, peak under load {peak:.1} MiB");
    if run("sender") {
        sender(o).await;
    }
}

/// The outbox sender (9.): messages/s delivered to a local SMTP server (aiosmtpd, in its own
/// process), claim, send and mark included, ÷ the same SMTP sends alone (no store) at the
/// sender's parallelism, in one run. Needs Python with aiosmtpd (`LATCHKEY_BENCH_PYTHON`, else
/// the SDK tests' `.sdk/venv`, else `python3`).
async fn sender(o: &Opts) {
    use futures::StreamExt as _;
    use latchkey::domain::ports::Mailer as _;
    use latchkey::domain::store::{OutboxMessage, Ticket};
    let root = env!("CARGO_MANIFEST_DIR");
    let venv = format!("{root}/.sdk/venv/bin/python");
    let python = std::env::var("LATCHKEY_BENCH_PYTHON")
        .ok()
        .or_else(|| std::path::Path::new(&venv).exists().then_some(venv))
        .unwrap_or_else(|| "python3".into());
    let mut sink = Command::new(&python)
        .arg(format!("{root}/benches/smtp_sink.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(sink.stdout.take().unwrap()).lines();
    let Some(port) = lines
        .next()
        .and_then(|l| l.ok())
        .and_then(|l| l.strip_prefix("SMTP ").map(str::to_owned))
    else {
        println!("sender: skipped ({python} has no aiosmtpd: pip install aiosmtpd)");
        let _ = sink.kill();
        let _ = sink.wait();
        return;
    };
    let smtp = format!("smtp://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let url = super::database_url_named(&o.store, dir.path(), "sender").await;
    let tenant = dir.path().join("tenant.yaml");
    std::fs::write(&tenant, TENANT).unwrap();
    let args = latchkey::cli::ServeArgs::parse_from_args([
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &url,
        "--tenant-file",
        tenant.to_str().unwrap(),
        "--smtp-url",
        &smtp,
    ])
    .unwrap();
    let app = latchkey::startup::Application::build(args.config(), Default::default())
        .await
        .unwrap();
    let services = app.services();
    let user = latchkey::domain::signup::signup(
        &services,
        latchkey::domain::signup::SignupInput {
            client_id: "bench-client".into(),
            connection: "db".into(),
            email: "sender@example.com".into(),
            password: latchkey::domain::user::Password("bench-password".into()),
            username: None,
            profile: Default::default(),
            user_metadata: None,
        },
        None,
    )
    .await
    .unwrap();
    let n = 5_000usize;
    let now = services.clock.now_millis();
    let message = |i: usize| OutboxMessage {
        id: format!("bench-{i}"),
        kind: "password_reset".into(),
        from: None,
        recipient: "sender@example.com".into(),
        subject: "Reset your password".into(),
        body_text: format!("Reset it here: https://bench.example/u/reset-password?ticket={i:032}#"),
        body_html: format!(
            "<p><a href=\"https://bench.example/u/reset-password?ticket={i:032}#\">Reset</a></p>"
        ),
        created_at: now,
        attempts: 0,
        sent_at: None,
        last_error: None,
    };
    // Raw: the same sends with no store, as many at a time as the sender.
    let mailer = latchkey::infra::mailer::SmtpMailer::new(&smtp, "bench@example.com").unwrap();
    let raw_n = 2_000usize;
    let t = Instant::now();
    futures::stream::iter((0..raw_n).map(message))
        .for_each_concurrent(latchkey::domain::outbox::PARALLEL, |m| {
            let mailer = &mailer;
            async move { mailer.send(&m).await.unwrap() }
        })
        .await;
    let raw = raw_n as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(256) {
        futures::future::join_all(chunk.iter().map(|&i| {
            let ticket = Ticket {
                id_hash: format!("bench-ticket-{i}"),
                kind: "password_reset".into(),
                user_id: user.id.clone(),
                email: user.email.clone(),
                result_url: None,
                created_at: now,
                expires_at: now + 3_600_000,
            };
            let store = services.store.clone();
            let m = message(i);
            async move { store.insert_ticket(&ticket, Some(&m)).await.unwrap() }
        }))
        .await;
    }
    let queued = t.elapsed().as_secs_f64();
    services.background.close();
    services.background.wait().await;
    let t = Instant::now();
    let delivered = latchkey::domain::outbox::deliver_due(&services, &mailer)
        .await
        .unwrap();
    let rate = delivered as f64 / t.elapsed().as_secs_f64();
    drop(sink.stdin.take());
    let received = lines.find_map(|l| {
        l.ok().and_then(|l| {
            l.strip_prefix("received ")
                .and_then(|n| n.parse::<u64>().ok())
        })
    });
    let _ = sink.wait();
    println!(
        "sender: {delivered} messages delivered at {rate:.0}/s (queued at {:.0}/s); raw SMTP sends {raw:.0}/s; sender / raw {:.2}; the server received {} in all",
        n as f64 / queued,
        rate / raw,
        received.map_or("?".into(), |r| r.to_string())
    );
}
