//! MEMORY STATS and MEMORY DOCTOR: where the node's memory goes, under
//! Redis's field names, and the checks Redis's doctor makes on the same
//! figures.
//!
//! The figures come from jemalloc (allocated, active, resident), /proc
//! (the process's resident set), the store's own accounting (each
//! database's hash tables and heap bytes) and the connections' input
//! buffers. Fields for parts this node does not have (a replication
//! backlog, an AOF buffer, replica clients) are 0, as on a Redis without
//! them; Lua's script caches and the cluster's peer links are not
//! measured and not listed.

use std::fmt::Write as _;

use super::{Ctx, Outcome};
use crate::protocol::Args;
use crate::state::NodeState;
use crate::store::{active_bytes, resident_bytes};

/// Below this, the doctor has nothing to say (as Redis's).
const EMPTY_BELOW: u64 = 5 << 20;
/// Ratios are issues only past this many bytes of difference.
const SIGNIFICANT: u64 = 10 << 20;
/// Average input buffer per client past which the doctor warns.
const BIG_CLIENT_BUFFER: u64 = 200 << 10;

/// One database's share.
struct Database {
    index: usize,
    /// Its hash tables' bytes (Redis's `overhead.hashtable.main`).
    tables: u64,
}

/// The figures of one report.
struct Figures {
    peak: u64,
    total: u64,
    startup: u64,
    clients_normal: u64,
    clients: u64,
    databases: Vec<Database>,
    keys: u64,
    allocator_allocated: u64,
    allocator_active: u64,
    allocator_resident: u64,
    rss: u64,
}

impl Figures {
    fn of(node: &NodeState) -> Figures {
        let total = node.store.sample_memory();
        let clients = node.clients.all();
        let clients_normal = clients
            .iter()
            .map(|c| c.query_buffer.load(std::sync::atomic::Ordering::Relaxed))
            .sum();
        let mut databases = Vec::new();
        let mut keys = 0;
        for (index, store) in node.databases.iter().enumerate() {
            let count = store.len() as u64;
            if count == 0 {
                continue;
            }
            keys += count;
            let (tables, _) = store.heap_bytes();
            databases.push(Database {
                index,
                tables: tables as u64,
            });
        }
        Figures {
            peak: node.store.peak_memory().max(total),
            total,
            startup: node.startup_memory,
            clients_normal,
            clients: clients.len() as u64,
            databases,
            keys,
            allocator_allocated: total,
            allocator_active: active_bytes().unwrap_or(total),
            allocator_resident: resident_bytes().unwrap_or(total),
            rss: super::info::rss_bytes(),
        }
    }

    fn overhead(&self) -> u64 {
        self.startup + self.clients_normal + self.databases.iter().map(|d| d.tables).sum::<u64>()
    }

    fn dataset(&self) -> u64 {
        self.total.saturating_sub(self.overhead())
    }
}

/// `a / b` as Redis prints ratios (0 when `b` is 0).
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// MEMORY STATS
pub fn stats(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    use Field::{Double, Int};
    let f = Figures::of(ctx.node);
    let net = f.total.saturating_sub(f.startup);
    let signed = |a: u64, b: u64| Int(a as i64 - b as i64);
    let int = |n: u64| Int(n as i64);
    let before_databases = [
        ("peak.allocated", int(f.peak)),
        ("total.allocated", int(f.total)),
        ("startup.allocated", int(f.startup)),
        ("replication.backlog", Int(0)),
        ("clients.slaves", Int(0)),
        ("clients.normal", int(f.clients_normal)),
        ("aof.buffer", Int(0)),
    ];
    let after_databases = [
        ("overhead.total", int(f.overhead())),
        ("keys.count", int(f.keys)),
        (
            "keys.bytes-per-key",
            int(net.checked_div(f.keys).unwrap_or(0)),
        ),
        ("dataset.bytes", int(f.dataset())),
        (
            "dataset.percentage",
            Double(ratio(f.dataset(), net) * 100.0),
        ),
        ("peak.percentage", Double(ratio(f.total, f.peak) * 100.0)),
        ("allocator.allocated", int(f.allocator_allocated)),
        ("allocator.active", int(f.allocator_active)),
        ("allocator.resident", int(f.allocator_resident)),
        (
            "allocator-fragmentation.ratio",
            Double(ratio(f.allocator_active, f.allocator_allocated)),
        ),
        (
            "allocator-fragmentation.bytes",
            signed(f.allocator_active, f.allocator_allocated),
        ),
        (
            "allocator-rss.ratio",
            Double(ratio(f.allocator_resident, f.allocator_active)),
        ),
        (
            "allocator-rss.bytes",
            signed(f.allocator_resident, f.allocator_active),
        ),
        (
            "rss-overhead.ratio",
            Double(ratio(f.rss, f.allocator_resident)),
        ),
        ("rss-overhead.bytes", signed(f.rss, f.allocator_resident)),
        ("fragmentation", Double(ratio(f.rss, f.total))),
        ("fragmentation.bytes", signed(f.rss, f.total)),
    ];
    let reply = &mut ctx.reply;
    reply.map(before_databases.len() + f.databases.len() + after_databases.len());
    write_fields(reply, &before_databases);
    for db in &f.databases {
        reply.bulk(format!("db.{}", db.index).as_bytes());
        reply.map(2);
        // Expiry times live in the entries: there is no second table.
        write_fields(
            reply,
            &[
                ("overhead.hashtable.main", int(db.tables)),
                ("overhead.hashtable.expires", Int(0)),
            ],
        );
    }
    write_fields(reply, &after_databases);
    Outcome::Unchanged
}

/// A MEMORY STATS value.
#[derive(Clone, Copy)]
enum Field {
    Int(i64),
    Double(f64),
}

fn write_fields(reply: &mut crate::protocol::Reply<'_>, fields: &[(&str, Field)]) {
    for &(name, value) in fields {
        reply.bulk(name.as_bytes());
        match value {
            Field::Int(n) => reply.int(n),
            Field::Double(x) => reply.double(x),
        }
    }
}

/// MEMORY DOCTOR
pub fn doctor(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    let report = report(&Figures::of(ctx.node));
    ctx.reply.verbatim(report.as_bytes());
    Outcome::Unchanged
}

/// The doctor's findings on `f`, in Redis's words where Redis's clients
/// and scripts look for them (the all-clear and the empty-instance texts).
fn report(f: &Figures) -> String {
    if f.total < EMPTY_BELOW {
        return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".to_string();
    }
    let past = |ratio: f64, limit: f64, more: u64, less: u64| {
        ratio > limit && more.saturating_sub(less) > SIGNIFICANT
    };
    let findings = [
        (
            ratio(f.peak, f.total) > 1.5,
            "Peak memory: this node once used more than 150% of what it uses now. The allocator keeps much of that memory after a peak, so the fragmentation ratio looks high; it is reused as data grows again. Restarting the node gives it back if the peak will not return.",
        ),
        (
            past(ratio(f.rss, f.total), 1.4, f.rss, f.total),
            "High total RSS: the process's resident set is more than 1.4 times what it has allocated, usually after a memory peak (see above) or from a workload that fragments the allocator's pages.",
        ),
        (
            past(ratio(f.allocator_active, f.allocator_allocated), 1.1, f.allocator_active, f.allocator_allocated),
            "High allocator fragmentation: the allocator's active pages hold more than 1.1 times the bytes in use, usually after a memory peak or from many values of changing sizes.",
        ),
        (
            past(ratio(f.allocator_resident, f.allocator_active), 1.1, f.allocator_resident, f.allocator_active),
            "High allocator RSS overhead: the allocator keeps more than 1.1 times its active pages resident, usually after a memory peak.",
        ),
        (
            past(ratio(f.rss, f.allocator_resident), 1.1, f.rss, f.allocator_resident),
            "High process RSS overhead: the process's resident set is more than 1.1 times what the allocator holds; Lua scripts' heaps and thread stacks count there.",
        ),
        (
            f.clients > 0 && f.clients_normal / f.clients > BIG_CLIENT_BUFFER,
            "Big client buffers: clients' input buffers average more than 200K per client: clients sending very large values or long pipelines; CLIENT LIST shows which (qbuf).",
        ),
    ];
    let found: Vec<&str> = findings
        .iter()
        .filter(|(issue, _)| *issue)
        .map(|(_, text)| *text)
        .collect();
    if found.is_empty() {
        return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".to_string();
    }
    let mut text =
        String::from("Sam, I detected a few issues in this Redis instance memory implants:\n\n");
    for finding in found {
        let _ = write!(text, " * {finding}\n\n");
    }
    text.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(total: u64, peak: u64, rss: u64) -> Figures {
        Figures {
            peak,
            total,
            startup: 1 << 20,
            clients_normal: 0,
            clients: 1,
            databases: Vec::new(),
            keys: 0,
            allocator_allocated: total,
            allocator_active: total,
            allocator_resident: total,
            rss,
        }
    }

    #[test]
    fn the_doctor_speaks_as_redis_for_empty_and_healthy_nodes() {
        assert!(report(&figures(1 << 20, 1 << 20, 1 << 20))
            .starts_with("Hi Sam, this instance is empty"));
        let healthy = report(&figures(100 << 20, 100 << 20, 110 << 20));
        assert!(
            healthy.starts_with("Hi Sam, I can't find any memory issue"),
            "{healthy}"
        );
    }

    #[test]
    fn the_doctor_reports_a_peak_and_fragmentation() {
        let text = report(&figures(100 << 20, 400 << 20, 300 << 20));
        assert!(text.starts_with("Sam, I detected a few issues"), "{text}");
        assert!(text.contains("Peak memory"), "{text}");
        assert!(text.contains("High total RSS"), "{text}");
        assert!(!text.contains("Big client buffers"), "{text}");
        assert!(text.ends_with("I want to help you.\n"));
        // A high ratio over a few bytes is no issue.
        let small = report(&figures(6 << 20, 6 << 20, 12 << 20));
        assert!(small.starts_with("Hi Sam, I can't find"), "{small}");
    }
}
