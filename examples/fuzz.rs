//! Long runs of the node's fuzzer (the CI part is tests/fuzz.rs):
//!
//! ```sh
//! cargo run --release --example fuzz -- --cases 10000000 [--seed N] [--family frames|commands|cluster]
//! ```
//!
//! `--cases` is per family; without `--seed` a random seed is printed.
//! `--family cluster` sends the argument family through a two-node cluster
//! (the server binary is built if needed).
//! Exits 1 with the seed and a shrunk failing input on the first failure.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/fuzz_support/mod.rs"]
mod fuzz_support;

fn main() {
    let mut cases = 1_000_000u64;
    let mut seed = None;
    let mut family = String::from("all");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--cases" => {
                cases = value
                    .parse()
                    .unwrap_or_else(|_| usage("--cases takes a number"))
            }
            "--seed" => {
                seed = Some(
                    value
                        .parse()
                        .unwrap_or_else(|_| usage("--seed takes a number")),
                )
            }
            "--family" => family = value,
            _ => usage(&format!("unknown flag {flag}")),
        }
    }
    let seed = seed.unwrap_or_else(|| fastrand::u64(..));
    eprintln!("RINGCACHE_FUZZ_SEED={seed} cases per family: {cases}");
    let mut failed = false;
    if family == "all" || family == "frames" {
        failed |= report(fuzz_support::frames(seed, cases));
    }
    if family == "all" || family == "commands" {
        failed |= report(fuzz_support::commands(seed, cases));
    }
    if family == "cluster" {
        failed |= report(fuzz_support::commands_on_cluster(2, seed, cases));
    }
    std::process::exit(i32::from(failed));
}

fn report(result: Result<String, String>) -> bool {
    match result {
        Ok(_) => false,
        Err(failure) => {
            eprintln!("{failure}");
            true
        }
    }
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "{problem}\nusage: fuzz [--cases N] [--seed N] [--family all|frames|commands|cluster]"
    );
    std::process::exit(2);
}
