//! Transaction blocks for the differential sequences: MULTI, queued
//! commands, EXEC or DISCARD; queueing errors (unknown commands, wrong
//! arities) that make EXEC answer EXECABORT; commands that fail inside
//! EXEC (WRONGTYPE, bad integers); WATCH/UNWATCH on the one connection
//! (a watched key written between WATCH and EXEC aborts it); nested
//! MULTI, WATCH inside MULTI, EXEC and DISCARD without MULTI.

use crate::gen::CommandGen;

/// Commands kept out of transactions: the runner rebuilds a key after
/// SPOP and re-syncs float sums after an INCRBYFLOAT that differs in the
/// last digits, both by sending more commands, which inside MULTI would
/// be queued.
const NOT_QUEUED: &[&str] = &["SPOP", "INCRBYFLOAT", "HINCRBYFLOAT"];

fn words(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|w| w.as_bytes().to_vec()).collect()
}

/// One block of commands, sent in order on one connection.
pub fn block(gen: &mut CommandGen) -> Vec<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    match gen.g().below(10) {
        0..=5 => {
            out.push(words(&["MULTI"]));
            queue(gen, &mut out);
            out.push(words(&[end(gen)]));
        }
        6..=8 => watched(gen, &mut out),
        _ => misuse(gen, &mut out),
    }
    out
}

/// EXEC mostly, DISCARD now and then.
fn end(gen: &mut CommandGen) -> &'static str {
    if gen.g().chance(0.8) {
        "EXEC"
    } else {
        "DISCARD"
    }
}

/// Zero to five commands to queue, now and then a queueing error or a
/// script.
fn queue(gen: &mut CommandGen, out: &mut Vec<Vec<Vec<u8>>>) {
    for _ in 0..gen.g().below(6) {
        let argv = match gen.g().below(20) {
            0 => words(&["NOSUCHCOMMAND", "x"]),
            1 => words(&["GET"]),
            2 => crate::gen_scripts::command(gen),
            _ => queueable(gen),
        };
        out.push(argv);
    }
}

fn queueable(gen: &mut CommandGen) -> Vec<Vec<u8>> {
    loop {
        let argv = gen.plain();
        let name = String::from_utf8_lossy(&argv[0]).to_ascii_uppercase();
        if !NOT_QUEUED.contains(&name.as_str()) {
            return argv;
        }
    }
}

/// WATCH one or two keys, maybe touch them (or others) on this
/// connection, maybe UNWATCH, then a transaction.
fn watched(gen: &mut CommandGen, out: &mut Vec<Vec<Vec<u8>>>) {
    let mut watch = words(&["WATCH"]);
    let first = gen.any_key();
    watch.push(first.clone());
    if gen.g().chance(0.4) {
        watch.push(gen.any_key());
    }
    out.push(watch);
    match gen.g().below(4) {
        0 => {
            // A write of a watched key: EXEC answers nil.
            let value = gen.any_value();
            out.push(vec![b"SET".to_vec(), first, value]);
        }
        1 => out.push(queueable(gen)),
        2 => out.push(vec![b"GET".to_vec(), first]),
        _ => {}
    }
    if gen.g().chance(0.2) {
        out.push(words(&["UNWATCH"]));
    }
    out.push(words(&["MULTI"]));
    queue(gen, out);
    out.push(words(&[end(gen)]));
}

/// Commands in the wrong place or with the wrong arguments.
fn misuse(gen: &mut CommandGen, out: &mut Vec<Vec<Vec<u8>>>) {
    match gen.g().below(6) {
        0 => out.push(words(&["EXEC"])),
        1 => out.push(words(&["DISCARD"])),
        2 => out.push(words(&["WATCH"])),
        3 => out.push(words(&["MULTI", "extra"])),
        4 => {
            let key = gen.any_key();
            out.push(words(&["MULTI"]));
            out.push(words(&["MULTI"]));
            out.push(vec![b"WATCH".to_vec(), key.clone()]);
            out.push(vec![b"EXISTS".to_vec(), key]);
            out.push(words(&[end(gen)]));
        }
        _ => {
            out.push(words(&["MULTI"]));
            queue(gen, out);
            out.push(words(&["UNWATCH"]));
            out.push(words(&["EXEC", "extra"]));
            out.push(words(&[end(gen)]));
        }
    }
}
