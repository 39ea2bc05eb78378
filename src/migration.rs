//! `latchkey users import|export`: reading Auth0's files (a JSON array or NDJSON, gzipped or
//! not, streamed in bounded memory; the password-hash export joined with a profile export),
//! the progress shown while importing, the per-user errors file, and writing exports in
//! Auth0's formats (NDJSON, JSON, CSV, and the hash file `--with-hashes` adds).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::domain::claims::iso_millis;
use crate::domain::imported_hash;
use crate::domain::migration::{self, FailedUser, Outcome, Summary};
use crate::domain::ports::Clock;
use crate::domain::store::{ExportedUser, Store, StoreError};
use crate::json_records::Piece;

/// Users written per store call (one transaction), and the bytes of records one may hold.
const BATCH: usize = 5_000;
const BATCH_BYTES: usize = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("no database connection named {0:?}")]
    UnknownConnection(String),
    /// A file that cannot be read or parsed; nothing was imported.
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("cannot write {path}: {reason}")]
    Output { path: PathBuf, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A bar on the terminal (indicatif).
    Bar,
    /// A plain line every few seconds (logs, CI).
    Lines,
    Quiet,
}

impl Progress {
    /// A bar when standard error is a terminal, else plain lines.
    pub fn detect() -> Self {
        use std::io::IsTerminal;
        if std::io::stderr().is_terminal() {
            Self::Bar
        } else {
            Self::Lines
        }
    }
}

pub struct ImportRun {
    pub connection: String,
    pub upsert: bool,
    pub files: Vec<PathBuf>,
    /// Join `files` (password-hash exports) with this profile export.
    pub profiles: Option<PathBuf>,
    pub errors: PathBuf,
    pub progress: Progress,
}

fn file_error(path: &Path, reason: impl std::fmt::Display) -> MigrationError {
    MigrationError::File {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

/// A new file only its owner may read (0600): password hashes go there. An existing file is
/// truncated and narrowed to 0600 before anything is written.
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        options.mode(0o600);
        let file = options.open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Ok(file)
    }
    #[cfg(not(unix))]
    options.open(path)
}

/// A file as bytes: gunzipped when it starts with gzip's magic number.
fn open(path: &Path) -> Result<Box<dyn BufRead + Send>, MigrationError> {
    let file = std::fs::File::open(path).map_err(|e| file_error(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let gz = reader
        .fill_buf()
        .map(|b| b.starts_with(&[0x1f, 0x8b]))
        .map_err(|e| file_error(path, e))?;
    Ok(if gz {
        Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::read::MultiGzDecoder::new(reader),
        ))
    } else {
        Box::new(reader)
    })
}

/// Most bytes one record of an imported file may take: two metadata objects of 16 kB and a
/// generous profile. A larger one is refused by itself (never held whole in memory).
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

/// Calls `f` with each record of a file and its size in bytes: the elements of a top-level
/// JSON array, or each value of NDJSON (or concatenated JSON). A record over
/// `MAX_RECORD_BYTES` arrives as `migration::oversize` (refused per user). `f` returning false
/// stops the reading.
fn each_record(path: &Path, f: &mut dyn FnMut(Value, usize) -> bool) -> Result<(), MigrationError> {
    let mut records = crate::json_records::Records::new(open(path)?, MAX_RECORD_BYTES);
    while let Some(piece) = records.next_piece().map_err(|e| file_error(path, e))? {
        let (value, size) = match piece {
            Piece::Record(bytes) => (
                serde_json::from_slice::<Value>(&bytes).map_err(|e| file_error(path, e))?,
                bytes.len(),
            ),
            Piece::TooLarge(size) => (migration::oversize(size, MAX_RECORD_BYTES), 0),
        };
        if !f(value, size) {
            break;
        }
    }
    Ok(())
}

/// Whether a record is of Auth0's password-hash export rather than the bulk-import format.
fn is_hash_export(v: &Value) -> bool {
    v.get("passwordHash").is_some() || v.get("_id").is_some()
}

/// Every record to import, in order, through `f`: the files' own records, or, with a profile
/// export, each profile joined with its hash record (held in memory, keyed by user id: the
/// smaller of the two), then the hash records no profile named.
fn records(run: &ImportRun, f: &mut dyn FnMut(Value, usize) -> bool) -> Result<(), MigrationError> {
    let Some(profiles) = &run.profiles else {
        for path in &run.files {
            let mut go = true;
            each_record(path, &mut |v, size| {
                let v = if is_hash_export(&v) {
                    migration::from_hash_export(&v, None)
                } else {
                    v
                };
                go = f(v, size);
                go
            })?;
            if !go {
                break;
            }
        }
        return Ok(());
    };
    let mut hashes: HashMap<String, (Value, usize)> = HashMap::new();
    let mut order = Vec::new();
    let mut go = true;
    for path in &run.files {
        each_record(path, &mut |v, size| {
            if migration::is_oversize(&v) {
                go = f(v, size);
                return go;
            }
            if let Some(id) = migration::export_id(&v) {
                order.push(id.clone());
                hashes.insert(id, (v, size));
            }
            true
        })?;
        if !go {
            return Ok(());
        }
    }
    each_record(profiles, &mut |p, size| {
        if migration::is_oversize(&p) {
            go = f(p, size);
            return go;
        }
        let joined = match migration::profile_id(&p).and_then(|id| hashes.remove(&id)) {
            Some((h, hash_size)) => (migration::from_hash_export(&h, Some(&p)), size + hash_size),
            None => {
                let mut v = migration::from_hash_export(&json!({}), Some(&p));
                if let Some(id) = migration::profile_id(&p) {
                    v["user_id"] = Value::String(id);
                }
                (v, size)
            }
        };
        go = f(joined.0, joined.1);
        go
    })?;
    for id in order {
        if !go {
            break;
        }
        if let Some((h, size)) = hashes.remove(&id) {
            go = f(migration::from_hash_export(&h, None), size);
        }
    }
    Ok(())
}

/// The incremental JSON array of refused users.
struct ErrorsFile {
    path: PathBuf,
    out: BufWriter<std::fs::File>,
    count: u64,
}

impl ErrorsFile {
    fn create(path: &Path) -> Result<Self, MigrationError> {
        let out = std::fs::File::create(path).map_err(|e| MigrationError::Output {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            path: path.to_owned(),
            out: BufWriter::new(out),
            count: 0,
        })
    }

    fn push(&mut self, failed: &FailedUser) -> Result<(), MigrationError> {
        let sep = if self.count == 0 { "[\n" } else { ",\n" };
        self.count += 1;
        let line = serde_json::to_string(failed).unwrap_or_default();
        write!(self.out, "{sep}{line}").map_err(|e| self.output_error(e))
    }

    fn finish(mut self) -> Result<(), MigrationError> {
        let end = if self.count == 0 { "[]\n" } else { "\n]\n" };
        self.out
            .write_all(end.as_bytes())
            .and_then(|()| self.out.flush())
            .map_err(|e| self.output_error(e))
    }

    fn output_error(&self, e: std::io::Error) -> MigrationError {
        MigrationError::Output {
            path: self.path.clone(),
            reason: e.to_string(),
        }
    }
}

struct Shown {
    bar: Option<indicatif::ProgressBar>,
    mode: Progress,
    last: Instant,
    started: Instant,
}

impl Shown {
    fn new(mode: Progress, total: u64) -> Self {
        let bar = (mode == Progress::Bar).then(|| {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} users {per_sec} eta {eta} {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Self {
            bar,
            mode,
            last: Instant::now(),
            started: Instant::now(),
        }
    }

    fn update(&mut self, s: &Summary, total: u64) {
        let msg = format!(
            "inserted {} updated {} failed {}",
            s.inserted, s.updated, s.failed
        );
        match (&self.bar, self.mode) {
            (Some(bar), _) => {
                bar.set_position(s.total);
                bar.set_message(msg);
            }
            (None, Progress::Lines) if self.last.elapsed() >= Duration::from_secs(5) => {
                self.last = Instant::now();
                eprintln!(
                    "latchkey users import: {}/{total} ({msg}, {:.0} users/s)",
                    s.total,
                    s.total as f64 / self.started.elapsed().as_secs_f64().max(0.001)
                );
            }
            _ => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Imports every user of `run.files` into `run.connection`. The files are read through once
/// first: one that does not parse (bad JSON, a truncated gzip) stops the import before anything
/// is written. Users then go in batches of 5,000, each batch one transaction; a user the rules
/// refuse goes to the errors file and the rest go on.
pub async fn import(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    run: ImportRun,
) -> Result<Summary, MigrationError> {
    if !store
        .connections()
        .await?
        .iter()
        .any(|c| c.name == run.connection)
    {
        return Err(MigrationError::UnknownConnection(run.connection));
    }
    let run = Arc::new(run);
    let counting = run.clone();
    let total = tokio::task::spawn_blocking(move || {
        let mut n = 0u64;
        records(&counting, &mut |_, _| {
            n += 1;
            true
        })
        .map(|()| n)
    })
    .await
    .map_err(|e| file_error(Path::new("(reader)"), e))??;

    let mut errors = ErrorsFile::create(&run.errors)?;
    let (tx, rx) = mpsc::channel::<Vec<Value>>(2);
    let reading = run.clone();
    let reader = tokio::task::spawn_blocking(move || {
        let mut batch = Vec::with_capacity(BATCH);
        let mut bytes = 0usize;
        let result = records(&reading, &mut |v, size| {
            batch.push(v);
            bytes += size;
            // Bounded in count and in bytes: two batches in flight hold at most 2 x 16 MB of
            // records, whatever their sizes.
            if batch.len() == BATCH || bytes >= BATCH_BYTES {
                bytes = 0;
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                return tx.blocking_send(full).is_ok();
            }
            true
        });
        if !batch.is_empty() {
            let _ = tx.blocking_send(batch);
        }
        result
    });
    let mut summary = Summary::default();
    let mut shown = Shown::new(run.progress, total);
    // Two batches in flight, each its own transaction: PostgreSQL then works on both cores
    // while this process checks the next records. (On SQLite the writes take turns.)
    let batches =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
    let mut written = batches
        .map(|batch| {
            let (store, clock, run) = (store.clone(), clock.clone(), run.clone());
            async move {
                let now = clock.now_millis();
                let mut valid = Vec::with_capacity(batch.len());
                let mut checked = Vec::with_capacity(batch.len());
                for (i, record) in batch.iter().enumerate() {
                    match migration::check(record, now) {
                        Ok(u) => {
                            valid.push(u);
                            checked.push(Ok(i));
                        }
                        Err(problems) => checked.push(Err(problems)),
                    }
                }
                let outcomes = store
                    .import_users(&run.connection, &valid, run.upsert, now)
                    .await?;
                Ok::<_, MigrationError>((batch, checked, outcomes))
            }
        })
        .buffered(2)
        .boxed();
    while let Some(done) = written.next().await {
        let (batch, checked, outcomes) = done?;
        let mut outcomes = outcomes.into_iter();
        for (record, check) in batch.iter().zip(checked) {
            match check.map(|_| outcomes.next()) {
                Err(problems) => {
                    summary.failed += 1;
                    errors.push(&FailedUser::new(record, problems))?;
                }
                Ok(Some(Outcome::Inserted)) => summary.inserted += 1,
                Ok(Some(Outcome::Updated)) => summary.updated += 1,
                Ok(Some(Outcome::Refused(p))) => {
                    summary.failed += 1;
                    errors.push(&FailedUser::new(record, vec![p]))?;
                }
                Ok(None) => {
                    return Err(MigrationError::Store(StoreError::Corrupt(Arc::new(
                        std::io::Error::other("the store answered fewer users than it was given"),
                    ))));
                }
            }
        }
        summary.total += batch.len() as u64;
        shown.update(&summary, total);
    }
    shown.finish();
    reader
        .await
        .map_err(|e| file_error(Path::new("(reader)"), e))??;
    errors.finish()?;
    Ok(summary)
}

pub struct ExportRun {
    pub connection: Option<String>,
    pub format: crate::cli::ExportFormat,
    /// `None`: standard output.
    pub output: Option<PathBuf>,
    pub with_hashes: Option<PathBuf>,
    /// Only these properties (`[{name, export_as?}]`, `name` may be a dotted path such as
    /// `app_metadata.plan`), in this order (the users-exports job's `fields`).
    pub fields: Option<Vec<Value>>,
    /// At most this many users.
    pub limit: Option<u64>,
}

/// The `fields` of a profile: `(column, value)` in order.
fn projected(profile: &Value, fields: &[Value]) -> Vec<(String, Value)> {
    fields
        .iter()
        .filter_map(|f| {
            let name = f.get("name")?.as_str()?;
            let column = f
                .get("export_as")
                .and_then(Value::as_str)
                .unwrap_or(name)
                .to_owned();
            let value = name
                .split('.')
                .try_fold(profile, |v, k| v.get(k))
                .cloned()
                .unwrap_or(Value::Null);
            Some((column, value))
        })
        .collect()
}

fn csv_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A user as Auth0's user export writes it.
fn profile(u: &ExportedUser) -> Value {
    let mut v = json!({
        "user_id": format!("auth0|{}", u.id),
        "email": u.email,
        "email_verified": u.email_verified,
        "blocked": u.blocked,
        "created_at": iso_millis(u.created_at),
        "updated_at": iso_millis(u.updated_at),
        "logins_count": u.logins_count,
        "app_metadata": u.app_metadata,
        "user_metadata": u.user_metadata,
        "identities": [{"connection": u.connection, "provider": "auth0", "user_id": u.id, "isSocial": false}],
    });
    for (k, val) in [
        ("username", &u.username),
        ("given_name", &u.given_name),
        ("family_name", &u.family_name),
        ("name", &u.name),
        ("nickname", &u.nickname),
        ("picture", &u.picture),
    ] {
        if let Some(val) = val {
            v[k] = Value::String(val.clone());
        }
    }
    if let Some(t) = u.last_login {
        v["last_login"] = Value::String(iso_millis(t));
    }
    v
}

/// A user's hash as Auth0's password-hash export writes it (`custom_password_hash` for what is
/// not bcrypt); `None` for a user without a password.
fn hash_record(u: &ExportedUser) -> Option<Value> {
    let mut v = json!({
        "_id": {"$oid": u.id},
        "email": u.email,
        "email_verified": u.email_verified,
        "connection": u.connection,
        "password_set_date": {"$date": iso_millis(u.last_password_reset.unwrap_or(u.created_at))},
        "identifiers": [{"type": "email", "value": u.email, "verified": u.email_verified}],
    });
    // Auth0's `_id` is an ObjectId; any other id travels as `alt_id`, which wins on import.
    if !(u.id.len() == 24 && u.id.bytes().all(|b| b.is_ascii_hexdigit())) {
        v["alt_id"] = Value::String(u.id.clone());
    }
    match imported_hash::exported(&u.password_hash) {
        Ok(None) => return None,
        Ok(Some(bcrypt)) => v["passwordHash"] = Value::String(bcrypt),
        Err(custom) => v["custom_password_hash"] = custom,
    }
    Some(v)
}

const CSV_COLUMNS: [&str; 17] = [
    "user_id",
    "email",
    "email_verified",
    "username",
    "given_name",
    "family_name",
    "name",
    "nickname",
    "picture",
    "blocked",
    "created_at",
    "updated_at",
    "last_login",
    "logins_count",
    "connection",
    "app_metadata",
    "user_metadata",
];

fn csv_row(u: &ExportedUser) -> Vec<String> {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    vec![
        format!("auth0|{}", u.id),
        u.email.clone(),
        u.email_verified.to_string(),
        o(&u.username),
        o(&u.given_name),
        o(&u.family_name),
        o(&u.name),
        o(&u.nickname),
        o(&u.picture),
        u.blocked.to_string(),
        iso_millis(u.created_at),
        iso_millis(u.updated_at),
        u.last_login.map(iso_millis).unwrap_or_default(),
        u.logins_count.to_string(),
        u.connection.clone(),
        Value::Object(u.app_metadata.clone()).to_string(),
        Value::Object(u.user_metadata.clone()).to_string(),
    ]
}

/// Writes every user (of one connection, or all) in `run.format`, pages of 1,000 in id order;
/// returns how many.
pub async fn export(store: Arc<dyn Store>, run: ExportRun) -> Result<u64, MigrationError> {
    use crate::cli::ExportFormat;
    if let Some(c) = &run.connection
        && !store.connections().await?.iter().any(|k| &k.name == c)
    {
        return Err(MigrationError::UnknownConnection(c.clone()));
    }
    let out_path = run.output.clone().unwrap_or_else(|| "(stdout)".into());
    let out_err = |path: &Path| {
        let path = path.to_owned();
        move |e: std::io::Error| MigrationError::Output {
            path: path.clone(),
            reason: e.to_string(),
        }
    };
    let sink: Box<dyn Write + Send> = match &run.output {
        Some(p) => Box::new(std::fs::File::create(p).map_err(out_err(p))?),
        None => Box::new(std::io::stdout()),
    };
    let mut out = BufWriter::new(sink);
    let mut hashes = match &run.with_hashes {
        Some(p) => Some(BufWriter::new(private_file(p).map_err(out_err(p))?)),
        None => None,
    };
    let csv_line = |fields: &[String]| -> Result<Vec<u8>, MigrationError> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(fields)
            .map_err(|e| out_err(&out_path)(std::io::Error::other(e)))?;
        w.into_inner()
            .map_err(|e| out_err(&out_path)(std::io::Error::other(e.to_string())))
    };
    if run.format == ExportFormat::Csv {
        let header: Vec<String> = match &run.fields {
            Some(f) => projected(&Value::Null, f)
                .into_iter()
                .map(|(c, _)| c)
                .collect(),
            None => CSV_COLUMNS.iter().map(|c| c.to_string()).collect(),
        };
        out.write_all(&csv_line(&header)?)
            .map_err(out_err(&out_path))?;
    }
    if run.format == ExportFormat::Json {
        out.write_all(b"[").map_err(out_err(&out_path))?;
    }
    let (mut after, mut n) = (String::new(), 0u64);
    let limit = run.limit.unwrap_or(u64::MAX);
    'pages: loop {
        let page = store
            .export_users(run.connection.as_deref(), &after, 1_000)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        for u in &page {
            if n >= limit {
                break 'pages;
            }
            let chosen = run.fields.as_ref().map(|f| projected(&profile(u), f));
            match (run.format, chosen) {
                (ExportFormat::Csv, None) => {
                    out.write_all(&csv_line(&csv_row(u))?)
                        .map_err(out_err(&out_path))?;
                }
                (ExportFormat::Csv, Some(cols)) => {
                    let row: Vec<String> = cols.iter().map(|(_, v)| csv_cell(v)).collect();
                    out.write_all(&csv_line(&row)?)
                        .map_err(out_err(&out_path))?;
                }
                (format, chosen) => {
                    let record = match chosen {
                        Some(cols) => Value::Object(cols.into_iter().collect()),
                        None => profile(u),
                    };
                    if format == ExportFormat::Json {
                        let sep = if n == 0 { "\n" } else { ",\n" };
                        write!(out, "{sep}{record}").map_err(out_err(&out_path))?;
                    } else {
                        writeln!(out, "{record}").map_err(out_err(&out_path))?;
                    }
                }
            }
            if let (Some(h), Some(record)) = (&mut hashes, hash_record(u)) {
                let p = run.with_hashes.clone().unwrap_or_default();
                writeln!(h, "{record}").map_err(out_err(&p))?;
            }
            n += 1;
        }
    }
    if run.format == ExportFormat::Json {
        out.write_all(b"\n]\n").map_err(out_err(&out_path))?;
    }
    out.flush().map_err(out_err(&out_path))?;
    if let Some(mut h) = hashes {
        let p = run.with_hashes.clone().unwrap_or_default();
        h.flush().map_err(out_err(&p))?;
    }
    Ok(n)
}

/// How long a job's claim lasts: an instance that dies mid-job frees it after this, and
/// another runs it again from the start.
pub const JOB_LEASE_MS: i64 = 15 * 60 * 1000;

/// Runs the oldest pending job, if any (one instance wins each job); returns whether it ran
/// one. Imports go through [`import`] and exports through [`export`], as the commands do,
/// with the job's file in a temporary directory.
pub async fn run_job(ctx: &crate::domain::Services) -> Result<bool, MigrationError> {
    use crate::domain::store::JobResult;
    let now = ctx.clock.now_millis();
    let Some((job, input)) = ctx.store.claim_job(now, JOB_LEASE_MS).await? else {
        return Ok(false);
    };
    let dir = tempfile::tempdir().map_err(|e| MigrationError::Output {
        path: std::env::temp_dir(),
        reason: e.to_string(),
    })?;
    let result = match job.kind.as_str() {
        "users_import" => {
            let users = dir.path().join("users");
            std::fs::write(&users, input.unwrap_or_default()).map_err(|e| {
                MigrationError::Output {
                    path: users.clone(),
                    reason: e.to_string(),
                }
            })?;
            let errors = dir.path().join("errors.json");
            let run = ImportRun {
                connection: job.connection.clone().unwrap_or_default(),
                upsert: job.upsert,
                files: vec![users.clone()],
                profiles: None,
                errors: errors.clone(),
                progress: Progress::Quiet,
            };
            match import(ctx.store.clone(), ctx.clock.clone(), run).await {
                Ok(summary) => JobResult {
                    status: "completed",
                    summary: serde_json::to_string(&summary).ok(),
                    errors: std::fs::read_to_string(&errors).ok(),
                    output: None,
                    error: None,
                },
                // The file's own problem, worded without the temporary path.
                Err(MigrationError::File { reason, .. }) => JobResult {
                    status: "failed",
                    summary: None,
                    errors: None,
                    output: None,
                    error: Some(format!("the users file cannot be read: {reason}")),
                },
                Err(MigrationError::UnknownConnection(c)) => JobResult {
                    status: "failed",
                    summary: None,
                    errors: None,
                    output: None,
                    error: Some(format!("no database connection named {c:?}")),
                },
                Err(e) => return Err(e),
            }
        }
        _ => {
            let options: Value = job
                .options
                .as_deref()
                .and_then(|o| serde_json::from_str(o).ok())
                .unwrap_or(Value::Null);
            let out = dir.path().join("export");
            let format = if job.format.as_deref() == Some("csv") {
                crate::cli::ExportFormat::Csv
            } else {
                crate::cli::ExportFormat::Ndjson
            };
            let run = ExportRun {
                connection: job.connection.clone(),
                format,
                output: Some(out.clone()),
                with_hashes: None,
                fields: options["fields"].as_array().cloned(),
                limit: options["limit"].as_u64(),
            };
            let n = export(ctx.store.clone(), run).await?;
            let plain = std::fs::read(&out).map_err(|e| MigrationError::Output {
                path: out.clone(),
                reason: e.to_string(),
            })?;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            let gz = gz
                .write_all(&plain)
                .and_then(|()| gz.finish())
                .map_err(|e| MigrationError::Output {
                    path: out.clone(),
                    reason: e.to_string(),
                })?;
            JobResult {
                status: "completed",
                summary: Some(json!({"exported": n}).to_string()),
                errors: None,
                output: Some(gz),
                error: None,
            }
        }
    };
    tracing::info!(job_id = %job.id, kind = %job.kind, status = result.status, "job finished");
    ctx.store
        .finish_job(&job.id, result, ctx.clock.now_millis())
        .await?;
    Ok(true)
}

/// Reads a whole small file's records (tests and the tenant file's seed users use files).
pub fn read_all(path: &Path) -> Result<Vec<Value>, MigrationError> {
    let mut all = Vec::new();
    each_record(path, &mut |v, _| {
        all.push(v);
        true
    })?;
    Ok(all)
}
