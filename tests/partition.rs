//! Partitions with real network isolation: three nodes, each in a network
//! namespace of its own on a bridge (tests/common/netns.rs), written to
//! through every node at `--replicas 1 --write-quorum 2` while links are
//! cut and healed. Checked after each heal: no acknowledged write is lost,
//! a node cut off acknowledges nothing it cannot replicate, and every copy
//! of every key converges. Also: a cluster bound to 0.0.0.0 with a secret
//! and no password keeps its peer links under protected mode.
//!
//! Needs root and iproute2: fails under `CI=true` without them, and is
//! skipped (loudly) elsewhere.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::cluster::{ring_agreed, ring_settled};
use common::eventually;
use common::info::field_u64;
use common::netns::{lab_or_skip, Lab};
use common::process::server_binary;
use common::redis_server::skip_without;
use redis::{Connection, Value};

const PASSWORD: &str = "partition-test-password";
/// RESP and gossip ports: every node has a namespace, so all use the same.
const PORT: u16 = 7000;
const GOSSIP_PORT: u16 = 17000;
/// How long a cut lasts: several failure timeouts.
const CUT_FOR: Duration = Duration::from_secs(8);
/// Keys every writer overwrites in turn (conflicting writes across sides).
const SHARED_KEYS: usize = 40;
/// Pause between one writer's writes (a bounded load).
const WRITE_PAUSE: Duration = Duration::from_millis(15);
/// Upper bound of one writer's writes in one scenario.
const MAX_WRITES: usize = 4000;
const CONVERGE: Duration = Duration::from_secs(60);

/// A secret file for the lab's nodes, removed with the lab.
fn secret_file(lab: &mut Lab) -> String {
    let path = std::env::temp_dir().join(format!("ringcache-partition-{}", lab.ns(0)));
    std::fs::write(&path, "partition-test-secret\n").expect("secret file");
    lab.scratch.push(path.clone());
    path.display().to_string()
}

/// Starts node `i` of the lab with `args` after the common ones, its log
/// in a scratch file.
fn start_node(lab: &mut Lab, i: usize, args: &[String]) {
    let log_path = std::env::temp_dir().join(format!("ringcache-{}.log", lab.ns(i)));
    let log = std::fs::File::create(&log_path).expect("log file");
    lab.scratch.push(log_path);
    let binary = server_binary();
    let mut command = lab.command(i, binary.to_str().expect("utf-8 path"));
    command
        .args(["--port", &PORT.to_string()])
        .args(["--cluster-port", &GOSSIP_PORT.to_string()])
        .args(["--node-name", &format!("node-{i}")])
        .args(args)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log);
    if i == 0 {
        command.args(["--cluster-enabled", "yes"]);
    } else {
        command.args(["--cluster-seeds", &format!("{}:{GOSSIP_PORT}", lab.addr(0))]);
    }
    lab.spawn(command);
}

/// Starts the lab's three nodes with the lab's secret, a 1.5 s failure
/// timeout and the flags `extra(lab, i)` gives node `i` (words separated by
/// spaces).
fn start_cluster(lab: &mut Lab, extra: impl Fn(&Lab, usize) -> String) {
    let secret = secret_file(lab);
    for i in 0..3 {
        let mut args = vec![
            "--cluster-secret-file".to_string(),
            secret.clone(),
            "--failure-timeout".to_string(),
            "1500ms".to_string(),
        ];
        args.extend(extra(lab, i).split(' ').map(String::from));
        start_node(lab, i, &args);
    }
}

fn node_addr(lab: &Lab, i: usize) -> SocketAddr {
    SocketAddr::new(lab.addr(i).into(), PORT)
}

fn connect(addr: SocketAddr) -> redis::RedisResult<Connection> {
    let client = redis::Client::open(format!("redis://:{PASSWORD}@{addr}/"))?;
    let conn = client.get_connection_with_timeout(Duration::from_secs(2))?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    conn.set_write_timeout(Some(Duration::from_secs(10)))?;
    Ok(conn)
}

/// Every node sees three ring nodes, no transfer is left, and all agree on
/// the owners of every slot.
fn converged(lab: &Lab) -> bool {
    ring_agreed((0..3).map(|i| connect(node_addr(lab, i)).ok()), 3)
}

/// One write as a client saw it, times from the test's start.
#[derive(Debug, Clone)]
struct Attempt {
    node: usize,
    key: String,
    value: String,
    start: Duration,
    end: Duration,
    /// `None` for OK, else the error's code (or "io").
    error: Option<String>,
}

/// Writes through node `node` until `stop`: fresh keys and, every other
/// write, one of the shared keys.
fn writer(
    addr: SocketAddr,
    node: usize,
    scenario: &'static str,
    t0: Instant,
    stop: Arc<AtomicBool>,
    last_ack_ms: Arc<[AtomicU64; 3]>,
) -> JoinHandle<Vec<Attempt>> {
    std::thread::spawn(move || {
        let mut attempts = Vec::new();
        let mut conn: Option<Connection> = None;
        for seq in 0..MAX_WRITES {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let key = if seq % 2 == 0 {
                format!("shared:{}", (seq / 2 + node * 13) % SHARED_KEYS)
            } else {
                format!("{scenario}:n{node}:{seq}")
            };
            let value = format!("{scenario}-n{node}-{seq}");
            let start = t0.elapsed();
            let outcome = set(&mut conn, addr, &key, &value);
            let error = match outcome {
                Ok(Value::Okay) => {
                    let now = t0.elapsed().as_millis() as u64;
                    last_ack_ms[node].store(now, Ordering::Relaxed);
                    None
                }
                Ok(other) => Some(format!("unexpected {other:?}")),
                Err(e) => {
                    if e.code().is_none() {
                        conn = None;
                    }
                    Some(e.code().unwrap_or("io").to_string())
                }
            };
            attempts.push(Attempt {
                node,
                key,
                value,
                start,
                end: t0.elapsed(),
                error,
            });
            std::thread::sleep(WRITE_PAUSE);
        }
        attempts
    })
}

/// SET through `conn`, connecting first if there is none.
fn set(
    conn: &mut Option<Connection>,
    addr: SocketAddr,
    key: &str,
    value: &str,
) -> redis::RedisResult<Value> {
    if conn.is_none() {
        *conn = Some(connect(addr)?);
    }
    let conn = conn.as_mut().expect("connected above");
    redis::cmd("SET").arg(key).arg(value).query(conn)
}

/// What one writer saw around a cut.
fn report(attempts: &[Attempt], node: usize, cut: Duration, heal: Duration) -> (usize, usize) {
    let mine: Vec<&Attempt> = attempts.iter().filter(|a| a.node == node).collect();
    let during: Vec<&&Attempt> = mine
        .iter()
        .filter(|a| a.start >= cut && a.end < heal)
        .collect();
    let errors: Vec<&&&Attempt> = during.iter().filter(|a| a.error.is_some()).collect();
    let oks = during.len() - errors.len();
    let mut kinds: HashMap<&str, usize> = HashMap::new();
    for a in &errors {
        *kinds.entry(a.error.as_deref().unwrap_or("")).or_default() += 1;
    }
    let window = match (errors.first(), errors.last()) {
        (Some(first), Some(last)) => format!(
            "errors from {:.2}s to {:.2}s after the cut ({:.2}s)",
            (first.start - cut).as_secs_f64(),
            (last.end - cut).as_secs_f64(),
            (last.end - first.start).as_secs_f64()
        ),
        _ => "no errors".to_string(),
    };
    let slowest_ok = during
        .iter()
        .filter(|a| a.error.is_none())
        .map(|a| a.end - a.start)
        .max()
        .unwrap_or_default();
    let after_heal = mine.iter().filter(|a| a.start >= heal).count();
    let after_heal_errors = mine
        .iter()
        .filter(|a| a.start >= heal && a.error.is_some())
        .count();
    println!(
        "  via node-{node}: during the cut {} writes, {oks} OK (slowest {:.2}s), {} refused \
         {kinds:?}; {window}; after the heal {after_heal} writes, {after_heal_errors} refused",
        during.len(),
        slowest_ok.as_secs_f64(),
        errors.len()
    );
    (oks, errors.len())
}

/// The values a key may hold after the heal: if some write of it was
/// acknowledged, the last acknowledged one or any write that did not end
/// before it started; otherwise anything written, or nothing.
fn acceptable(history: &[&Attempt]) -> Option<Vec<String>> {
    let last_ok = history
        .iter()
        .filter(|a| a.error.is_none())
        .max_by_key(|a| a.start)?;
    Some(
        history
            .iter()
            .filter(|a| a.end >= last_ok.start)
            .map(|a| a.value.clone())
            .collect(),
    )
}

/// Reads every key from every node (routed), and from each node with
/// READONLY (its own copy where it owns the key); returns, per key, the
/// distinct answers.
fn read_everywhere(lab: &Lab, keys: &[String]) -> HashMap<String, Vec<Option<String>>> {
    let mut answers: HashMap<String, Vec<Option<String>>> = HashMap::new();
    for i in 0..3 {
        for readonly in [false, true] {
            let mut conn = connect(node_addr(lab, i)).expect("connect for reads");
            if readonly {
                let _: () = redis::cmd("READONLY").query(&mut conn).expect("READONLY");
            }
            for chunk in keys.chunks(500) {
                let mut pipe = redis::pipe();
                for key in chunk {
                    pipe.cmd("GET").arg(key);
                }
                let values = query_until_settled(&mut conn, &pipe);
                for (key, value) in chunk.iter().zip(values) {
                    let seen = answers.entry(key.clone()).or_default();
                    if !seen.contains(&value) {
                        seen.push(value);
                    }
                }
            }
        }
    }
    answers
}

/// The pipeline's replies; a read that answers TRYAGAIN (a forwarding
/// node whose link to the owner is still reconnecting just after a heal:
/// cluster clients retry it) is asked again, up to the deadline.
fn query_until_settled(
    conn: &mut redis::Connection,
    pipe: &redis::Pipeline,
) -> Vec<Option<String>> {
    let until = Instant::now() + common::DEADLINE;
    loop {
        match pipe.query::<Vec<Option<String>>>(conn) {
            Ok(values) => return values,
            Err(e) if Instant::now() < until && format!("{e} {e:?}").contains("TryAgain") => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("GETs: {e}"),
        }
    }
}

/// One write for a report: value, start and end (s) and outcome.
fn describe(a: &Attempt) -> String {
    format!(
        "{}@{:.2}-{:.2}:{}",
        a.value,
        a.start.as_secs_f64(),
        a.end.as_secs_f64(),
        a.error.as_deref().unwrap_or("OK")
    )
}

/// What each node answers for `key`, routed and READONLY, for a report.
fn copies_of(lab: &Lab, key: &str) -> Vec<String> {
    let mut copies = Vec::new();
    for i in 0..3 {
        for readonly in [false, true] {
            let answer = connect(node_addr(lab, i)).and_then(|mut conn| {
                if readonly {
                    redis::cmd("READONLY").query::<()>(&mut conn)?;
                }
                redis::cmd("GET")
                    .arg(key)
                    .query::<Option<String>>(&mut conn)
            });
            let mode = if readonly { "readonly" } else { "routed" };
            copies.push(format!("node-{i} {mode}: {answer:?}"));
        }
    }
    copies
}

/// After a heal: waits until every copy agrees, then checks that no
/// acknowledged write is lost. Returns (lost, diverging) for the report.
fn verify(lab: &Lab, history: &[Attempt]) -> (usize, usize) {
    let mut by_key: HashMap<&str, Vec<&Attempt>> = HashMap::new();
    for a in history {
        by_key.entry(a.key.as_str()).or_default().push(a);
    }
    let keys: Vec<String> = by_key.keys().map(|k| k.to_string()).collect();
    let started = Instant::now();
    let mut answers = read_everywhere(lab, &keys);
    let mut diverging = answers.values().filter(|v| v.len() > 1).count();
    while diverging > 0 && started.elapsed() < CONVERGE {
        std::thread::sleep(Duration::from_millis(500));
        answers = read_everywhere(lab, &keys);
        diverging = answers.values().filter(|v| v.len() > 1).count();
    }
    let mut lost = Vec::new();
    for (key, attempts) in &by_key {
        let Some(allowed) = acceptable(attempts) else {
            continue;
        };
        let seen = &answers[*key];
        if seen
            .iter()
            .any(|v| !v.as_ref().is_some_and(|v| allowed.contains(v)))
        {
            let writes: Vec<String> = attempts.iter().map(|a| describe(a)).collect();
            lost.push(format!(
                "{key}: read {seen:?}, allowed {allowed:?}; writes {writes:?}"
            ));
        }
    }
    println!(
        "  {} keys, {} acknowledged writes: {} lost, {diverging} keys with diverging copies \
         (copies agreed after {:.1}s)",
        keys.len(),
        history.iter().filter(|a| a.error.is_none()).count(),
        lost.len(),
        started.elapsed().as_secs_f64()
    );
    for line in lost.iter().take(10) {
        println!("    lost: {line}");
    }
    for (key, seen) in answers.iter().filter(|(_, v)| v.len() > 1).take(10) {
        let writes: Vec<String> = by_key[key.as_str()].iter().map(|a| describe(a)).collect();
        println!(
            "    diverging: {key}: {seen:?}; per node {:?}; writes {writes:?}",
            copies_of(lab, key)
        );
    }
    (lost.len(), diverging)
}

/// One scenario: writers through every node, `cut` applied one second in,
/// undone after [`CUT_FOR`] once every node of `recovering` acknowledged a
/// write after the cut (failure detection is slower on a loaded machine;
/// at most [`CONVERGE`] more), writers stopped once the cluster converged.
/// Times are from `t0`, the test's start, so histories of several
/// scenarios compare.
fn scenario(
    lab: &Lab,
    t0: Instant,
    name: &'static str,
    cut: impl Fn(&Lab),
    heal: impl Fn(&Lab),
    recovering: &[usize],
) -> (Vec<Attempt>, Duration, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let last_ack_ms: Arc<[AtomicU64; 3]> = Arc::new(Default::default());
    let writers: Vec<_> = (0..3)
        .map(|i| {
            writer(
                node_addr(lab, i),
                i,
                name,
                t0,
                stop.clone(),
                last_ack_ms.clone(),
            )
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    cut(lab);
    let cut_at = t0.elapsed();
    std::thread::sleep(CUT_FOR);
    let after_cut = cut_at.as_millis() as u64;
    eventually(CONVERGE, || {
        recovering
            .iter()
            .all(|&i| last_ack_ms[i].load(Ordering::Relaxed) > after_cut)
    });
    heal(lab);
    let heal_at = t0.elapsed();
    let healed = eventually(CONVERGE, || converged(lab));
    let converged_after = t0.elapsed() - heal_at;
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    let attempts: Vec<Attempt> = writers
        .into_iter()
        .flat_map(|w| w.join().expect("writer"))
        .collect();
    assert!(
        healed,
        "{name}: the cluster did not converge after the heal"
    );
    println!(
        "{name}: cut at {:.2}s, healed at {:.2}s, ring agreed {:.2}s after the heal",
        cut_at.as_secs_f64(),
        heal_at.as_secs_f64(),
        converged_after.as_secs_f64()
    );
    (attempts, cut_at, heal_at)
}

#[test]
fn partitions_lose_no_acknowledged_write_and_copies_converge() {
    let Some(mut lab) = lab_or_skip(
        3,
        "partitions_lose_no_acknowledged_write_and_copies_converge",
    ) else {
        return;
    };
    start_cluster(&mut lab, |lab, i| {
        format!(
            "--bind {} --requirepass {PASSWORD} --replicas 1 --write-quorum 2",
            lab.addr(i)
        )
    });
    assert!(
        eventually(CONVERGE, || converged(&lab)),
        "the cluster never formed"
    );
    let mut history: Vec<Attempt> = Vec::new();
    let t0 = Instant::now();
    // Times below count from here; the nodes' logs use wall-clock time.
    println!(
        "times from {:?} (since the Unix epoch)",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
    );

    // 1. node-2 cut off from both others.
    let (attempts, cut, heal) = scenario(
        &lab,
        t0,
        "isolated",
        |l| l.isolate(2),
        |l| l.rejoin(2),
        &[0, 1],
    );
    let mut oks = [0; 3];
    for (node, ok) in oks.iter_mut().enumerate() {
        *ok = report(&attempts, node, cut, heal).0;
    }
    history.extend(attempts);
    let (lost, diverging) = verify(&lab, &history);
    assert_eq!(
        oks[2], 0,
        "the cut-off node acknowledged writes it could not replicate"
    );
    assert!(
        oks[0] > 0 && oks[1] > 0,
        "the majority side never recovered: {oks:?}"
    );
    assert_eq!(lost, 0, "acknowledged writes lost after the isolation");
    assert_eq!(diverging, 0, "copies diverge after the isolation");

    // 2. Asymmetric: node-0 reaches both; node-1's packets to node-2 are
    // lost (node-2's still reach node-1).
    let (attempts, cut, heal) = scenario(
        &lab,
        t0,
        "asymmetric",
        |l| l.cut(1, 2),
        |l| l.heal(1, 2),
        &[0],
    );
    for node in 0..3 {
        report(&attempts, node, cut, heal);
    }
    history.extend(attempts);
    let (lost, diverging) = verify(&lab, &history);
    assert_eq!(lost, 0, "acknowledged writes lost after the asymmetric cut");
    assert_eq!(diverging, 0, "copies diverge after the asymmetric cut");
}

/// Runs `redis-cli` in node `i`'s namespace against its own loopback
/// (protected mode lets loopback clients in), one command per line.
fn redis_cli(lab: &Lab, i: usize, commands: &str) -> String {
    use std::io::Write;
    let mut child = lab
        .command(i, "redis-cli")
        .args(["-p", &PORT.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli (redis-tools) is installed");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(commands.as_bytes())
        .expect("writing to redis-cli");
    let output = child.wait_with_output().expect("redis-cli output");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_public_bind_keeps_its_peer_links_under_protected_mode() {
    let test = "a_public_bind_keeps_its_peer_links_under_protected_mode";
    if skip_without(test, &["redis-cli"]) {
        return;
    }
    let Some(mut lab) = lab_or_skip(3, test) else {
        return;
    };
    // Without a secret, such a node refuses to start and says why.
    let refused = lab
        .command(0, server_binary().to_str().expect("utf-8 path"))
        .args([
            "--bind",
            "0.0.0.0",
            "--port",
            "7001",
            "--cluster-enabled",
            "yes",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("running the node");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(stderr.contains("refusing to start"), "{stderr}");

    start_cluster(&mut lab, |lab, i| {
        format!("--bind 0.0.0.0 --cluster-announce-ip {}", lab.addr(i))
    });
    let formed = eventually(CONVERGE, || {
        (0..3).all(|i| ring_settled(&redis_cli(&lab, i, "INFO cluster\n"), 3))
    });
    assert!(formed, "the cluster never formed over its public addresses");
    // Keys of every owner, written through node 0 and read through node 1:
    // both forward over peer links that protected mode used to refuse.
    let sets: String = (0..60).map(|k| format!("SET public:{k} v{k}\n")).collect();
    let replies = redis_cli(&lab, 0, &sets);
    assert_eq!(
        replies.lines().filter(|l| *l == "OK").count(),
        60,
        "{replies}"
    );
    let gets: String = (0..60).map(|k| format!("GET public:{k}\n")).collect();
    let values = redis_cli(&lab, 1, &gets);
    let expected: Vec<String> = (0..60).map(|k| format!("v{k}")).collect();
    assert_eq!(values.lines().collect::<Vec<_>>(), expected, "{values}");
    // A client from outside (not loopback, not a peer) is still refused,
    // whatever it sends but a peer proof.
    for request in [
        &b"PING\r\n"[..],
        b"NOSUCHCOMMAND\r\n",
        b"RCAPPLY 1 k 0 s v\r\n",
    ] {
        let outside = std::net::TcpStream::connect(node_addr(&lab, 0)).expect("connect");
        outside
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let reply = common::RawConn::new(outside).send_and_read_to_close(request);
        let reply = String::from_utf8_lossy(&reply);
        assert!(
            reply.starts_with("-DENIED") && reply.ends_with("\r\n"),
            "{reply}"
        );
        assert_eq!(
            reply.matches("\r\n").count(),
            1,
            "closed after one reply: {reply}"
        );
    }
    let info = redis_cli(&lab, 0, "INFO cluster\n");
    println!(
        "public bind: 60/60 writes forwarded; peer_auth_refused={:?} peer_auth_failed={:?}",
        field_u64(&info, "cluster_peer_auth_refused"),
        field_u64(&info, "cluster_peer_auth_failed")
    );
    assert_eq!(field_u64(&info, "cluster_peer_auth_failed"), Some(0));
}
