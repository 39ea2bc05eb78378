//! Login and token benchmarks (`--mode tokens`), against the real `latchkey` binary started as a
//! child process (so its memory can be read apart from the load generator's):
//! - password logins/s ÷ raw Argon2id verifications/s, in alternating windows;
//! - unknown-user vs wrong-password response time (medians), sequentially;
//! - client_credentials grants/s ÷ raw RS256 signatures/s, in alternating windows;
//! - refresh grants/s and `/userinfo`/s;
//! - the server's RSS idle and its peak under all of the above.

use std::future::Future;
use std::io::BufRead as _;
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::{Opts, database_url, median, ms, percentile};

const TENANT: &str = "
tenant:
  default_directory: db
clients:
  - name: Bench
    client_id: bench-client
    client_secret: bench-secret
connections:
  - name: db
    enabled_clients: [Bench]
    options: { passwordPolicy: none }
";
const SECRET: &str = "bench-secret";
const REALM: &str = "http://auth0.com/oauth/grant-type/password-realm";

struct ServerProcess {
    child: Child,
    base: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(url: &str, dir: &std::path::Path) -> ServerProcess {
    let tenant = dir.join("tenant.yaml");
    std::fs::write(&tenant, TENANT).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", url])
        .arg("--tenant-file")
        .arg(&tenant)
        .args(["--log-format", "json"])
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

type Step = Box<dyn FnMut(reqwest::Client) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send>;

/// Runs one `Step` per task in a loop for `secs`; returns (successes/s, latencies).
async fn load(steps: Vec<Step>, secs: f64) -> (f64, Vec<Duration>) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(steps.len())
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let tasks: Vec<_> = steps
        .into_iter()
        .map(|mut step| {
            let http = http.clone();
            tokio::spawn(async move {
                let (mut ok, mut lat) = (0usize, Vec::new());
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    if step(http.clone()).await {
                        ok += 1;
                        lat.push(sent.elapsed());
                    }
                }
                (ok, lat)
            })
        })
        .collect();
    let (mut ok, mut lat) = (0, Vec::new());
    for t in tasks {
        let (o, l) = t.await.unwrap();
        ok += o;
        lat.extend(l);
    }
    lat.sort();
    (ok as f64 / start.elapsed().as_secs_f64(), lat)
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
    use latchkey::domain::hasher::{Engine, HashParams};
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(&o.store, dir.path()).await;
    let server = start(&url, dir.path());
    let pid = server.child.id();
    let base = server.base.clone();
    let http = reqwest::Client::new();
    // Idle: started, migrated, keys loaded, nothing served yet.
    let (idle_rss, _) = rss_mib(pid);
    println!(
        "store: {}  cores: {workers}  seconds per measurement: {}",
        o.store, o.seconds
    );

    let users = 64;
    signup_users(&http, &base, users).await;
    let token_url = format!("{base}/oauth/token");
    let rounds = (o.seconds as usize / 4).max(3);
    let window = o.seconds as f64 / rounds as f64;
    let concurrency = workers * 4;

    // 1. Logins vs raw verifications. Each login task cycles over the users, so no identifier
    // nears the brute-force limit (successes reset it anyway).
    let phc = Engine::new(HashParams::default())
        .unwrap()
        .hash(b"Passw0rd!")
        .unwrap();
    let (mut raw_v, mut logins) = (Vec::new(), Vec::new());
    let mut login_lat = Vec::new();
    for _ in 0..rounds {
        let phc = phc.clone();
        raw_v.push(
            tokio::task::spawn_blocking(move || {
                thread_local!(static E: std::cell::RefCell<Option<Engine>> = const { std::cell::RefCell::new(None) });
                let phc = Arc::new(phc);
                raw_rate(
                    workers,
                    window,
                    Arc::new(move || {
                        E.with(|e| {
                            let mut e = e.borrow_mut();
                            let engine = e.get_or_insert_with(|| {
                                Engine::new(HashParams::default()).unwrap()
                            });
                            assert!(engine.verify(b"Passw0rd!", &phc).unwrap());
                        })
                    }),
                )
            })
            .await
            .unwrap(),
        );
        let steps: Vec<Step> = (0..concurrency)
            .map(|t| {
                let url = token_url.clone();
                let mut i = t;
                Box::new(move |http: reqwest::Client| {
                    let url = url.clone();
                    i += concurrency;
                    let body = login_body(
                        &format!("user{}@example.com", i % users),
                        "Passw0rd!",
                        "openid profile email",
                    );
                    Box::pin(async move { post(&http, &url, &body).await.0 == 200 })
                        as Pin<Box<dyn Future<Output = bool> + Send>>
                }) as Step
            })
            .collect();
        let (rate, lat) = load(steps, window).await;
        logins.push(rate);
        login_lat.extend(lat);
    }
    login_lat.sort();
    let (rv, lg) = (median(raw_v), median(logins));
    println!("raw argon2id verifications/s ({workers} threads): {rv:.1}");
    println!(
        "password logins/s (scope openid profile email: id_token + access token): {lg:.1}  p50 {:.1} ms  p99 {:.1} ms",
        ms(percentile(&login_lat, 0.5)),
        ms(percentile(&login_lat, 0.99))
    );
    println!("ratio logins/s / verifications/s: {:.3}", lg / rv);

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
        post(
            &http,
            &token_url,
            &login_body(&format!("user{i}@example.com"), "Passw0rd!", "openid"),
        )
        .await;
    }
    let (mu, mw) = (median(unknown), median(wrong));
    println!(
        "timing: unknown user median {mu:.2} ms, wrong password median {mw:.2} ms, difference {:.1} %",
        (mu - mw).abs() / mw.max(mu) * 100.0
    );

    // 3. client_credentials vs raw RS256 signatures of the same claims.
    let key = latchkey::domain::keys::generate(0).unwrap();
    let encoding = Arc::new(EncodingKey::from_rsa_pem(key.private_pem.as_bytes()).unwrap());
    let claims = json!({"iss": format!("{base}/"), "sub": "bench-client@clients",
        "aud": format!("{base}/api/v2/"), "iat": 1, "exp": 2, "scope": "", "azp": "bench-client",
        "gty": "client-credentials"});
    let (mut raw_s, mut grants) = (Vec::new(), Vec::new());
    let mut cc_lat = Vec::new();
    for _ in 0..rounds {
        let (encoding, claims) = (encoding.clone(), claims.clone());
        raw_s.push(
            tokio::task::spawn_blocking(move || {
                raw_rate(
                    workers,
                    window,
                    Arc::new(move || {
                        let mut h = Header::new(Algorithm::RS256);
                        h.kid = Some("k".into());
                        jsonwebtoken::encode(&h, &claims, &encoding).unwrap();
                    }),
                )
            })
            .await
            .unwrap(),
        );
        let body = json!({"grant_type": "client_credentials", "client_id": "bench-client",
            "client_secret": SECRET, "audience": format!("{base}/api/v2/")});
        let steps: Vec<Step> = (0..concurrency * 2)
            .map(|_| {
                let (url, body) = (token_url.clone(), body.clone());
                Box::new(move |http: reqwest::Client| {
                    let (url, body) = (url.clone(), body.clone());
                    Box::pin(async move { post(&http, &url, &body).await.0 == 200 })
                        as Pin<Box<dyn Future<Output = bool> + Send>>
                }) as Step
            })
            .collect();
        let (rate, lat) = load(steps, window).await;
        grants.push(rate);
        cc_lat.extend(lat);
    }
    cc_lat.sort();
    let (rs, cc) = (median(raw_s), median(grants));
    println!("raw RS256 signatures/s ({workers} threads): {rs:.0}");
    println!(
        "client_credentials grants/s: {cc:.0}  p50 {:.2} ms  p99 {:.2} ms",
        ms(percentile(&cc_lat, 0.5)),
        ms(percentile(&cc_lat, 0.99))
    );
    println!("ratio grants/s / signatures/s: {:.3}", cc / rs);

    // 4. Refresh grants: each task logs in once, then refreshes in a loop with the newest token.
    for scope in ["offline_access", "openid offline_access"] {
        let mut steps: Vec<Step> = Vec::new();
        for t in 0..concurrency * 2 {
            let (_, body) = post(
                &http,
                &token_url,
                &login_body(
                    &format!("user{}@example.com", t % users),
                    "Passw0rd!",
                    scope,
                ),
            )
            .await;
            let token = Arc::new(std::sync::Mutex::new(
                body["refresh_token"].as_str().unwrap().to_owned(),
            ));
            let url = token_url.clone();
            steps.push(Box::new(move |http: reqwest::Client| {
                let (url, token) = (url.clone(), token.clone());
                Box::pin(async move {
                    let current = token.lock().unwrap().clone();
                    let body = json!({"grant_type": "refresh_token", "client_id": "bench-client",
                        "client_secret": SECRET, "refresh_token": current});
                    let (status, resp) = post(&http, &url, &body).await;
                    if status == 200 {
                        *token.lock().unwrap() = resp["refresh_token"].as_str().unwrap().to_owned();
                    }
                    status == 200
                }) as Pin<Box<dyn Future<Output = bool> + Send>>
            }));
        }
        let (rate, lat) = load(steps, o.seconds as f64).await;
        println!(
            "refresh grants/s (scope {scope}): {rate:.0}  p50 {:.2} ms  p99 {:.2} ms",
            ms(percentile(&lat, 0.5)),
            ms(percentile(&lat, 0.99))
        );
    }

    // 5. /userinfo with valid access tokens.
    let mut tokens = Vec::new();
    for i in 0..8 {
        let (_, body) = post(
            &http,
            &token_url,
            &login_body(
                &format!("user{i}@example.com"),
                "Passw0rd!",
                "openid profile email",
            ),
        )
        .await;
        tokens.push(body["access_token"].as_str().unwrap().to_owned());
    }
    let info_url = format!("{base}/userinfo");
    let steps: Vec<Step> = (0..concurrency * 4)
        .map(|t| {
            let (url, token) = (info_url.clone(), tokens[t % tokens.len()].clone());
            Box::new(move |http: reqwest::Client| {
                let (url, token) = (url.clone(), token.clone());
                Box::pin(async move {
                    let resp = http.get(&url).bearer_auth(&token).send().await.unwrap();
                    let ok = resp.status() == 200;
                    let _ = resp.bytes().await;
                    ok
                }) as Pin<Box<dyn Future<Output = bool> + Send>>
            }) as Step
        })
        .collect();
    let (rate, lat) = load(steps, o.seconds as f64).await;
    println!(
        "/userinfo/s: {rate:.0}  p50 {:.2} ms  p99 {:.2} ms",
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99))
    );

    let (_, peak) = rss_mib(pid);
    println!("server RSS: idle {idle_rss:.1} MiB at start, peak under load {peak:.1} MiB");
}
