//! `ringcache-loadgen`: parses the options, runs the load, prints the table
//! and writes the JSON. Everything else lives in the library so tests can
//! reach it.

use std::process::ExitCode;

use clap::Parser;
use ringcache_bench::config::{Args, Config};
use ringcache_bench::report::Summary;
use ringcache_bench::runner;

fn main() -> ExitCode {
    let config = match Config::try_from(Args::parse()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ringcache-loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = match runner::run(config.clone()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("ringcache-loadgen: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Every connection failing means nothing was measured: say so in the
    // exit status, while error replies alone are results, not failures.
    if outcome.failed_connections == config.total_connections() {
        let why = outcome
            .stats
            .first_error
            .as_deref()
            .unwrap_or("unknown error");
        eprintln!(
            "ringcache-loadgen: no connection to {} could be opened: {why}",
            config.server
        );
        return ExitCode::FAILURE;
    }
    let summary = Summary::new(&config, &outcome);
    // With `--json -` stdout carries only the JSON, so the table goes to
    // stderr where it is still visible.
    let table = summary.to_text();
    if config.json.as_deref() == Some("-") {
        eprint!("{table}");
    } else {
        print!("{table}");
    }
    if let Some(target) = &config.json {
        let json = match serde_json::to_string_pretty(&summary) {
            Ok(j) => j,
            Err(e) => {
                eprintln!("ringcache-loadgen: cannot encode JSON: {e}");
                return ExitCode::FAILURE;
            }
        };
        if target == "-" {
            println!("{json}");
        } else if let Err(e) = std::fs::write(target, json + "\n") {
            eprintln!("ringcache-loadgen: cannot write {target}: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
