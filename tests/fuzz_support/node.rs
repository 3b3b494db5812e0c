//! A node served in this process (the library's `server::run` on a
//! listener bound to 127.0.0.1:0, as `main.rs` does), so millions of cases
//! cost no process start, and a recorder of panics on the node's threads:
//! a handler panic inside a connection task would otherwise only close
//! that connection.

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ringcache_server::{server, Config, NodeState};

/// Name of the thread the node's runtime runs on.
const NODE_THREAD: &str = "fuzz-node";

/// A node running on its own thread of this process.
pub struct InProcessNode {
    /// The RESP address.
    pub addr: SocketAddr,
    node: Arc<NodeState>,
    thread: Option<JoinHandle<()>>,
}

impl InProcessNode {
    /// Starts a node with the default configuration plus `settings`
    /// (config-file names and values), on one worker thread as a node on
    /// two cores runs.
    pub fn start(settings: &[(&str, &str)]) -> InProcessNode {
        panics::install();
        let mut config = Config {
            bind: [127, 0, 0, 1].into(),
            port: 0,
            threads: 1,
            ..Config::default()
        };
        for (name, value) in settings {
            config
                .set(name, value)
                .unwrap_or_else(|e| panic!("setting {name}: {e:?}"));
        }
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(NODE_THREAD.into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async move {
                    let listener = server::bind(&config).await.expect("bind");
                    let addr = listener.local_addr().expect("local address");
                    let node = NodeState::new(config);
                    tx.send((addr, node.clone())).expect("report the address");
                    if let Err(e) =
                        server::run(ringcache_server::node::Node::standalone(node), listener).await
                    {
                        eprintln!("in-process node stopped: {e}");
                    }
                });
            })
            .expect("spawn the node thread");
        let (addr, node) = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the in-process node starts");
        InProcessNode {
            addr,
            node,
            thread: Some(thread),
        }
    }

    /// True while the node's thread runs (it ends only on shutdown or a
    /// panic outside a connection task).
    pub fn alive(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// A new connection with a read timeout.
    pub fn connect(&self, read_timeout: Duration) -> std::io::Result<TcpStream> {
        let stream = TcpStream::connect(self.addr)?;
        stream.set_read_timeout(Some(read_timeout))?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

impl Drop for InProcessNode {
    fn drop(&mut self) {
        self.node.stop.trigger();
        let until = Instant::now() + Duration::from_secs(15);
        while self.alive() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        if let Some(thread) = self.thread.take() {
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}

/// Panics seen on the node's threads (its runtime, its maintenance and
/// helper threads), never on the test's own threads.
pub mod panics {
    use super::*;

    static COUNT: AtomicUsize = AtomicUsize::new(0);
    static MESSAGES: Mutex<Vec<String>> = Mutex::new(Vec::new());
    static INSTALLED: OnceLock<()> = OnceLock::new();

    /// Installs the recording hook once; the previous hook still prints.
    pub fn install() {
        INSTALLED.get_or_init(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                let thread = std::thread::current();
                let name = thread.name();
                let node_thread = match name {
                    None => true,
                    Some(n) => n == NODE_THREAD || n.starts_with("ringcache"),
                };
                if node_thread {
                    let text = format!("thread {:?}: {info}", name.unwrap_or("<unnamed>"));
                    if let Ok(mut messages) = MESSAGES.lock() {
                        messages.push(text);
                    }
                    COUNT.fetch_add(1, Ordering::SeqCst);
                }
                previous(info);
            }));
        });
    }

    /// Panics recorded so far.
    pub fn count() -> usize {
        COUNT.load(Ordering::SeqCst)
    }

    /// The messages of the panics after the first `from`.
    pub fn since(from: usize) -> Vec<String> {
        MESSAGES
            .lock()
            .map(|m| m.iter().skip(from).cloned().collect())
            .unwrap_or_default()
    }
}
