//! The `latchkey` binary: parses the command line and runs the server.

use std::process::ExitCode;

use clap::Parser;
use latchkey::config::{Cli, Command, KeysCommand};
use latchkey::startup::{Application, shutdown_signal};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Command::Serve(args) => args,
        Command::Keys(KeysCommand::Rotate(db)) => return rotate_keys(db).await,
    };
    latchkey::telemetry::init(args.log_format);
    let app = match Application::build(*args).await {
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

async fn rotate_keys(db: latchkey::config::DatabaseArgs) -> ExitCode {
    let settings = latchkey::store::PoolSettings {
        max_connections: 1,
        acquire_timeout: std::time::Duration::from_secs(db.db_acquire_timeout),
    };
    let store = match latchkey::store::SqlStore::connect(&db.database_url, &settings).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("latchkey: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cipher = match latchkey::config::key_cipher(db.key_encryption_key.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("latchkey: {e}");
            return ExitCode::FAILURE;
        }
    };
    match latchkey::domain::keys::rotate(&store, &cipher).await {
        Ok(kid) => {
            println!("new signing key {kid} is active; the previous key stays published for 48 h");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("latchkey: cannot rotate the signing key: {e}");
            ExitCode::FAILURE
        }
    }
}
