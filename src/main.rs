//! The `latchkey` binary: parses the command line and runs the server.

use std::process::ExitCode;

use clap::Parser;
use latchkey::cli::{Cli, Command, KeysCommand, UsersCommand};
use latchkey::startup::{Application, Dependencies, shutdown_signal};

/// jemalloc instead of glibc's malloc. Requests allocate in many small pieces across hyper,
/// axum, tower and serde, and jemalloc measured less CPU per request than glibc's malloc for a
/// little more idle RSS (docs/performance.md has the A/B). Set in the binary (and in the
/// benchmark, which runs the server in-process) rather than the library, so that the test
/// binaries, which link the library twice, have one allocator.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Command::Serve(args) => args,
        Command::Keys(KeysCommand::Rotate(db)) => return rotate_keys(db).await,
        Command::Users(command) => return users(command).await,
    };
    latchkey::telemetry::init(args.log_format);
    let app = match Application::build(args.config(), Dependencies::default()).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("latchkey: cannot start: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let base = app.base_url();
    println!("latchkey listening on {base} (issuer {})", app.issuer());
    if let Some(c) = app.bootstrap_credentials() {
        // Printed once, on the terminal only: the secret is stored hashed and never logged.
        println!(
            "\nCreated the default tenant:\n  connection:    {conn}\n  client_id:     {id}\n  client_secret: {secret}\n\nTry a signup:\n  curl --request POST --url '{base}/dbconnections/signup' --header 'content-type: application/json' --data '{{\"client_id\":\"{id}\",\"email\":\"test.account@signup.com\",\"password\":\"Passw0rd!\",\"connection\":\"{conn}\"}}'\n",
            conn = c.connection,
            id = c.client_id,
            secret = c.client_secret,
        );
    }
    match app.run(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("latchkey: server error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn users(command: UsersCommand) -> ExitCode {
    use latchkey::migration::{ExportRun, ImportRun, Progress};
    let db = match &command {
        UsersCommand::Import(a) => a.database.config(),
        UsersCommand::Export(a) => a.database.config(),
    };
    let settings = latchkey::store::PoolSettings {
        max_connections: 2,
        acquire_timeout: db.acquire_timeout,
    };
    let store = match latchkey::store::SqlStore::connect(&db.url, &settings).await {
        Ok(store) => std::sync::Arc::new(store),
        Err(e) => {
            eprintln!("latchkey: {e}");
            return ExitCode::FAILURE;
        }
    };
    match command {
        UsersCommand::Import(a) => {
            let run = ImportRun {
                connection: a.connection,
                upsert: a.upsert,
                files: a.files,
                profiles: a.profiles,
                errors: a.errors.clone(),
                progress: Progress::detect(),
            };
            let started = std::time::Instant::now();
            match latchkey::migration::import(
                store,
                std::sync::Arc::new(latchkey::infra::clock::SystemClock),
                run,
            )
            .await
            {
                Ok(s) => {
                    println!(
                        "imported {} users in {:.1} s: inserted {}, updated {}, failed {}{}",
                        s.total,
                        started.elapsed().as_secs_f64(),
                        s.inserted,
                        s.updated,
                        s.failed,
                        if s.failed > 0 {
                            format!(" (errors in {})", a.errors.display())
                        } else {
                            String::new()
                        }
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!(
                        "latchkey users import: {}",
                        latchkey::domain::error::chain(&e)
                    );
                    ExitCode::FAILURE
                }
            }
        }
        UsersCommand::Export(a) => {
            let to_stdout = a.output.is_none();
            let run = ExportRun {
                connection: a.connection,
                format: a.format,
                output: a.output,
                with_hashes: a.with_hashes,
                fields: None,
                limit: None,
            };
            match latchkey::migration::export(store, run).await {
                Ok(n) => {
                    if !to_stdout {
                        println!("exported {n} users");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!(
                        "latchkey users export: {}",
                        latchkey::domain::error::chain(&e)
                    );
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn rotate_keys(db: latchkey::cli::DatabaseArgs) -> ExitCode {
    let db = db.config();
    let settings = latchkey::store::PoolSettings {
        max_connections: 1,
        acquire_timeout: db.acquire_timeout,
    };
    let store = match latchkey::store::SqlStore::connect(&db.url, &settings).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("latchkey: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cipher = match db.key_cipher() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("latchkey: {e}");
            return ExitCode::FAILURE;
        }
    };
    let clock = latchkey::infra::clock::SystemClock;
    match latchkey::infra::keys::rotate(&store, &cipher, &clock).await {
        Ok(kid) => {
            println!("new signing key {kid} is active; the previous key stays published for 48 h");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "latchkey: cannot rotate the signing key: {}",
                latchkey::domain::error::chain(&e)
            );
            ExitCode::FAILURE
        }
    }
}
