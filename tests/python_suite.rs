//! The redis-py compatibility suite (`tests/python/`), run by `cargo test`:
//! this wrapper makes a virtual environment under `target/pyvenv` from
//! `tests/python/requirements.txt` (pinned, hash-checked; remade when the
//! file changes), starts a ringcache node, a 3-node ringcache cluster and a
//! redis-server, passes their addresses to pytest in the environment (see
//! `tests/python/conftest.py`) and fails with pytest's output when a test
//! fails. pytest runs in a process group of its own, killed when it is
//! done, so the redis-server cluster it starts cannot outlive it.
//!
//! Without python3, its venv module, pip's access to PyPI, redis-server or
//! redis-cli, the test says why it skipped, and fails under `CI=true`.

mod common;

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::cluster::TestCluster;
use common::process::profile_dir;
use common::redis_server::{skip_without, RedisServer};
use common::{skip_loudly, TestNode};

const TEST: &str = "python_suite";

/// Bound on the whole pytest run (it takes seconds; the bound is for a
/// hung client on a loaded machine).
const PYTEST_DEADLINE: Duration = Duration::from_secs(600);

/// Bound on making the virtual environment (pip downloads from PyPI).
const PIP_DEADLINE: Duration = Duration::from_secs(600);

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python")
}

/// Runs `command` to its end within `deadline` (killed after it).
fn run(command: &mut Command, deadline: Duration) -> Result<Output, String> {
    let shown = format!("{command:?}");
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{shown}: {e}"))?;
    // Output goes to pipes read by wait_with_output; a watchdog thread
    // kills the child at the deadline so the read ends.
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if finished.recv_timeout(deadline).is_err() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    });
    let output = child.wait_with_output();
    let _ = done.send(());
    let _ = watchdog.join();
    output.map_err(|e| format!("{shown}: {e}"))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The venv's python, made (or remade) from requirements.txt; Err says
/// why it cannot be.
fn venv_python() -> Result<PathBuf, String> {
    let requirements = suite_dir().join("requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .map_err(|e| format!("reading {}: {e}", requirements.display()))?;
    let venv = profile_dir().parent().expect("target dir").join("pyvenv");
    let python = venv.join("bin/python");
    let stamp = venv.join("installed-requirements.txt");
    if python.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&wanted) {
        return Ok(python);
    }
    let made = run(
        Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv),
        PIP_DEADLINE,
    )?;
    if !made.status.success() {
        return Err(format!(
            "python3 -m venv failed (is python3-venv installed?): {}",
            text(&made)
        ));
    }
    let installed = run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(["--require-hashes", "-r"])
            .arg(&requirements),
        PIP_DEADLINE,
    )?;
    if !installed.status.success() {
        return Err(format!(
            "pip could not install {}: {}",
            requirements.display(),
            text(&installed)
        ));
    }
    std::fs::write(&stamp, &wanted).map_err(|e| format!("writing {}: {e}", stamp.display()))?;
    Ok(python)
}

/// Runs pytest in its own process group with the servers' addresses;
/// returns whether it passed and its output. The group is killed at the
/// end, whatever happened.
fn pytest(python: &Path, env: &[(&str, String)]) -> (bool, String) {
    let log_path =
        std::env::temp_dir().join(format!("ringcache-pysuite-{}.log", std::process::id()));
    let log = File::create(&log_path).expect("creating the pytest log");
    let mut child = Command::new(python)
        .args(["-m", "pytest", "-q"])
        .current_dir(suite_dir())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("spawning pytest");
    let group = child.id();
    let deadline = Instant::now() + PYTEST_DEADLINE;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // The whole group: pytest and any redis-server it left behind.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{group}")])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
    let mut output = std::fs::read_to_string(&log_path).unwrap_or_default();
    let _ = std::fs::remove_file(&log_path);
    if status.is_none() {
        output.push_str(&format!("\n(pytest killed after {PYTEST_DEADLINE:?})"));
    }
    (status.is_some_and(|s| s.success()), output)
}

#[test]
fn redis_py_suite_passes() {
    if skip_without(TEST, &["python3", "redis-server", "redis-cli"]) {
        return;
    }
    let python = match venv_python() {
        Ok(python) => python,
        Err(why) => {
            skip_loudly(TEST, &why);
            return;
        }
    };
    let node = TestNode::start(&[]);
    let cluster = TestCluster::start(3, &[]);
    let redis = RedisServer::start();
    let cluster_addrs: Vec<String> = cluster
        .live()
        .into_iter()
        .map(|i| cluster.node(i).addr.to_string())
        .collect();
    let env = [
        ("RINGCACHE_ADDR", node.addr.to_string()),
        ("RINGCACHE_CLUSTER_ADDRS", cluster_addrs.join(",")),
        ("REDIS_ADDR", redis.addr.to_string()),
    ];
    let started = Instant::now();
    let (passed, output) = pytest(&python, &env);
    eprintln!("redis-py suite ran in {:.1?}:\n{output}", started.elapsed());
    assert!(passed, "the redis-py suite failed:\n{output}");
}
