//! `ringcache-stall ADDR SCENARIO [COUNT]`: loads COUNT keys (or hash
//! fields), runs the scenario's long command while a second connection
//! sends PINGs, and prints one JSON line with the command's time and the
//! overlapping PINGs' latency (milliseconds).

use std::process::ExitCode;

use ringcache_bench::stall::{self, Scenario};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: ringcache-stall ADDR keys|unlink|flushall-async [COUNT]";
    let (Some(addr), Some(scenario)) = (
        args.get(1).and_then(|a| a.parse().ok()),
        args.get(2).and_then(|s| Scenario::parse(s)),
    ) else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let count = match args.get(3).map(|c| c.parse::<usize>()) {
        None => 1_000_000,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let run = stall::load(addr, scenario, count).and_then(|()| stall::measure(addr, scenario));
    match run {
        Ok(s) => {
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
            println!(
                "{{\"scenario\":\"{}\",\"count\":{count},\"command_ms\":{:.3},\"pings\":{},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3}}}",
                scenario.name(),
                ms(s.command),
                s.pings,
                ms(s.p50),
                ms(s.p99),
                ms(s.max)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ringcache-stall: {e}");
            ExitCode::FAILURE
        }
    }
}
