//! The `latchkey` binary: parses the command line and runs the server.

use std::process::ExitCode;

use clap::Parser;
use latchkey::config::{Cli, Command};
use latchkey::startup::{Application, shutdown_signal};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let Command::Serve(args) = cli.command;
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
