//! `--mode import`: `latchkey users import` of N users (`--users`, default 1,000,000) with
//! bcrypt hashes, then `latchkey users export` of them, each as the real binary in its own
//! process (wall time, CPU of the command and of the rest of the machine, peak RSS); then the
//! first login of an imported bcrypt user against a native login on a started server.
//!
//! The file is NDJSON generated once per run: 64 real bcrypt hashes (cost 10, of known
//! passwords) and, for the rest, well-formed bcrypt strings with varied salts (an import
//! checks a hash's form, never verifies it, so they cost the same to import).

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use super::tokens::{TENANT, bin, start};
use super::{Opts, database_url_named, median, ms};

const REAL: usize = 64;

/// (user+system CPU seconds of a process and its threads) from /proc/<pid>/stat.
fn cpu_s(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Total busy CPU seconds of the machine (all cores), from /proc/stat.
fn machine_busy_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy: f64 = cpu
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    busy / 100.0
}

pub(super) struct Ran {
    pub(super) wall: f64,
    cpu: f64,
    machine: f64,
    /// VmHWM: all resident memory, SQLite's memory-mapped database file included.
    peak_mib: f64,
    /// The largest RssAnon seen: the process's own memory (heap, stacks).
    anon_mib: f64,
    out: String,
}

/// Runs the binary with `args`, sampling its peak RSS (VmHWM) until it exits.
pub(super) fn run(args: &[&str]) -> Ran {
    let busy0 = machine_busy_s();
    let t = Instant::now();
    let mut child = Command::new(bin())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (mut peak, mut anon, mut cpu) = (0.0f64, 0.0f64, 0.0f64);
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .map_or(0.0, |kb| kb / 1024.0)
        };
        peak = peak.max(field("VmHWM:"));
        anon = anon.max(field("RssAnon:"));
        cpu = cpu.max(cpu_s(pid));
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let wall = t.elapsed().as_secs_f64();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert!(child.wait().unwrap().success(), "{args:?} failed: {out}");
    Ran {
        wall,
        cpu,
        machine: machine_busy_s() - busy0,
        peak_mib: peak,
        anon_mib: anon,
        out,
    }
}

pub async fn import(o: &Opts) {
    let n = o.users;
    let dir = tempfile::tempdir().unwrap();
    // The file.
    let t = Instant::now();
    let file = dir.path().join("users.ndjson");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
    let real: Vec<String> = (0..REAL)
        .map(|i| bcrypt::hash(format!("imported-password-{i}"), 10).unwrap())
        .collect();
    let alphabet = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for i in 0..n {
        let hash = if i < REAL {
            real[i].clone()
        } else {
            // A real hash with its salt's first characters varied by i: the same form.
            let mut h = real[i % REAL].clone().into_bytes();
            let mut k = i;
            for b in h.iter_mut().skip(7).take(6) {
                *b = alphabet[k % 64];
                k /= 64;
            }
            String::from_utf8(h).unwrap()
        };
        let rec = json!({"email": format!("user{i}@example.com"), "user_id": format!("imp{i:08}"),
            "email_verified": i % 2 == 0, "given_name": "Imported", "family_name": format!("User {i}"),
            "app_metadata": {"plan": if i % 3 == 0 { "pro" } else { "free" }, "n": i},
            "password_hash": hash});
        writeln!(w, "{rec}").unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let size = std::fs::metadata(&file).unwrap().len() as f64 / 1e6;
    println!(
        "store: {}  users: {n}  file: {size:.0} MB NDJSON, generated in {:.1} s",
        o.store,
        t.elapsed().as_secs_f64()
    );

    let url = database_url_named(&o.store, dir.path(), "import").await;
    let tenant = dir.path().join("tenant.yaml");
    std::fs::write(&tenant, TENANT).unwrap();
    // The tenant (its connection) first: a server built once, not run.
    let args = latchkey::cli::ServeArgs::parse_from_args([
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &url,
        "--tenant-file",
        tenant.to_str().unwrap(),
    ])
    .unwrap();
    drop(
        latchkey::startup::Application::build(args.config(), Default::default())
            .await
            .unwrap(),
    );

    let errors = dir.path().join("errors.json");
    let file_s = file.to_str().unwrap();
    let r = run(&[
        "users",
        "import",
        "--database-url",
        &url,
        "--connection",
        "db",
        "--errors",
        errors.to_str().unwrap(),
        file_s,
    ]);
    println!(
        "import: {:.1} s, {:.0} users/s; the command's CPU {:.1} s ({:.0} % of one core); the machine's busy CPU {:.1} s of {:.1} available; peak RSS {:.0} MiB (own memory, RssAnon: {:.0} MiB)\n  {}",
        r.wall,
        n as f64 / r.wall,
        r.cpu,
        r.cpu / r.wall * 100.0,
        r.machine,
        r.wall * std::thread::available_parallelism().map_or(1, |c| c.get()) as f64,
        r.peak_mib,
        r.anon_mib,
        r.out.trim()
    );
    let out = dir.path().join("export.ndjson");
    let hashes = dir.path().join("hashes.ndjson");
    let r = run(&[
        "users",
        "export",
        "--database-url",
        &url,
        "--output",
        out.to_str().unwrap(),
        "--with-hashes",
        hashes.to_str().unwrap(),
    ]);
    println!(
        "export (profiles + hashes): {:.1} s, {:.0} users/s; the command's CPU {:.1} s; peak RSS {:.0} MiB (RssAnon {:.0} MiB); {:.0} + {:.0} MB",
        r.wall,
        n as f64 / r.wall,
        r.cpu,
        r.peak_mib,
        r.anon_mib,
        std::fs::metadata(&out).unwrap().len() as f64 / 1e6,
        std::fs::metadata(&hashes).unwrap().len() as f64 / 1e6,
    );

    // First logins of imported bcrypt users (bcrypt verify, then the Argon2id re-hash) against
    // native logins (one Argon2id verify), one at a time, alternating.
    let server = start(&url, dir.path());
    let base = server.base.clone();
    let http = reqwest::Client::new();
    let login = |email: String, password: String| {
        let http = http.clone();
        let url = format!("{base}/oauth/token");
        async move {
            let t = Instant::now();
            let r = http
                .post(url)
                .json(&json!({"grant_type": "http://auth0.com/oauth/grant-type/password-realm", "realm": "db",
                    "client_id": "bench-client", "client_secret": "bench-secret", "username": email, "password": password}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.bytes().await.unwrap();
            ms(t.elapsed())
        }
    };
    for i in 0..REAL {
        let r = http
            .post(format!("{base}/dbconnections/signup"))
            .json(&json!({"client_id": "bench-client", "connection": "db", "email": format!("native{i}@example.com"), "password": "native-password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let (mut first, mut native, mut second) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..REAL {
        first.push(
            login(
                format!("user{i}@example.com"),
                format!("imported-password-{i}"),
            )
            .await,
        );
        native.push(login(format!("native{i}@example.com"), "native-password".into()).await);
    }
    for i in 0..REAL {
        second.push(
            login(
                format!("user{i}@example.com"),
                format!("imported-password-{i}"),
            )
            .await,
        );
    }
    let (f, nat, s) = (median(first), median(native), median(second));
    println!(
        "first login of an imported bcrypt (cost 10) user: median {f:.1} ms; native login {nat:.1} ms; ratio {:.2}; the same user's second login (Argon2id now) {s:.1} ms",
        f / nat
    );
    drop(server);
}
