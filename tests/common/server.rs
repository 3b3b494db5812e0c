//! A node served in this process, as mini-redis's tests do: the library's
//! `server::run` on a listener bound to 127.0.0.1:0, on a runtime thread of
//! its own, so a test starts a node in milliseconds with no binary, no
//! log scraping and no process to reap. Dropping it stops the node (its
//! shutdown signal, then the thread joined within a deadline).
//!
//! What a node in this process shares with the test and the other tests of
//! the same binary: the allocator (INFO used_memory and `maxmemory` count
//! the whole process, so a test that measures memory holds
//! [`memory_lock`]), the metrics recorder (none is installed) and the log
//! (no subscriber). Tests about those, and about signals, exit codes, the
//! command line and clusters, use node processes ([`super::process`]).

use std::net::{SocketAddr, TcpStream};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ringcache_server::node::Node;
use ringcache_server::store::Clock;
use ringcache_server::{server, Config, NodeState};

use super::wire::RawConn;
use super::{DEADLINE, START_DEADLINE};

/// Name of the thread the node's runtime runs on (the panic recorder
/// counts panics on it).
const NODE_THREAD: &str = "test-node";

/// A node running on threads of this process.
pub struct TestServer {
    /// The RESP address.
    pub addr: SocketAddr,
    /// The TLS address, when the node serves TLS ([`Builder::tls`]).
    pub tls_addr: Option<SocketAddr>,
    /// The node's state (its store, config, counters).
    pub state: Arc<NodeState>,
    thread: Option<JoinHandle<()>>,
}

/// The configuration of a [`TestServer`] before it starts.
pub struct Builder {
    config: Config,
    clock: Clock,
    /// Serve TLS on a free port (its files set with [`Builder::set`]).
    tls: bool,
    /// Serve plain TCP (always, unless TLS only was asked for).
    plain: bool,
}

impl Builder {
    /// Sets a parameter by its config-file name (`maxclients`, `timeout`,
    /// `requirepass`, ...); panics on a name or value the node refuses.
    pub fn set(mut self, name: &str, value: &str) -> Builder {
        self.config
            .set(name, value)
            .unwrap_or_else(|e| panic!("setting {name} {value}: {e:?}"));
        self
    }

    /// Serves TLS on a free port too (`plain`) or only; the TLS files are
    /// set like any parameter (`tls-cert-file`, ...).
    pub fn tls(mut self, plain: bool) -> Builder {
        self.tls = true;
        self.plain = plain;
        self
    }

    /// Runs the store on `clock` (a manual clock moves only when told).
    pub fn clock(mut self, clock: Clock) -> Builder {
        self.clock = clock;
        self
    }

    /// Starts the node; returns once it accepts connections.
    pub fn start(self) -> TestServer {
        panics::install();
        let Builder {
            config,
            clock,
            tls,
            plain,
        } = self;
        let threads = config.threads;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(NODE_THREAD.into())
            .spawn(move || {
                // The runtime the binary picks for this many workers.
                let mut builder = if threads <= 1 {
                    tokio::runtime::Builder::new_current_thread()
                } else {
                    let mut b = tokio::runtime::Builder::new_multi_thread();
                    b.worker_threads(threads);
                    b
                };
                let runtime = builder.enable_all().build().expect("runtime");
                runtime.block_on(async move {
                    // The configured ports (0 unless a test set one, as a
                    // restart on the same port does).
                    let bound = |on: bool, port: u16| {
                        let address = std::net::SocketAddr::new(config.bind, port);
                        async move {
                            if !on {
                                return None;
                            }
                            let listener = tokio::net::TcpListener::bind(address);
                            Some(listener.await.expect("bind the test node's port"))
                        }
                    };
                    let listeners = server::Listeners {
                        plain: bound(plain, config.port).await,
                        tls: bound(tls, config.tls.port.unwrap_or(0)).await,
                    };
                    let address = |l: &Option<tokio::net::TcpListener>| {
                        l.as_ref().map(|l| l.local_addr().expect("local address"))
                    };
                    let tls_addr = address(&listeners.tls);
                    let addr = address(&listeners.plain).or(tls_addr).expect("a listener");
                    let state = NodeState::with_clock(config, clock);
                    tx.send((addr, tls_addr, state.clone()))
                        .expect("report the address");
                    if let Err(e) = server::serve(Node::standalone(state), listeners).await {
                        eprintln!("in-process node stopped: {e}");
                    }
                });
            })
            .expect("spawn the node thread");
        let (addr, tls_addr, state) = rx
            .recv_timeout(START_DEADLINE)
            .expect("the in-process node starts");
        TestServer {
            addr,
            tls_addr,
            state,
            thread: Some(thread),
        }
    }
}

impl TestServer {
    /// The default configuration on 127.0.0.1:0 with one worker thread
    /// (the node of a two-core machine), to be changed before starting.
    pub fn builder() -> Builder {
        let config = Config {
            bind: [127, 0, 0, 1].into(),
            port: 0,
            threads: 1,
            ..Config::default()
        };
        Builder {
            config,
            clock: Clock::System,
            tls: false,
            plain: true,
        }
    }

    /// A node with the default configuration.
    pub fn start() -> TestServer {
        TestServer::builder().start()
    }

    /// A node with `settings` (config-file names and values) on top of the
    /// default configuration.
    pub fn with(settings: &[(&str, &str)]) -> TestServer {
        settings
            .iter()
            .fold(TestServer::builder(), |b, (name, value)| b.set(name, value))
            .start()
    }

    /// A redis-rs client for this node.
    pub fn client(&self) -> redis::Client {
        redis::Client::open(format!("redis://{}/", self.addr)).expect("client")
    }

    /// A synchronous redis-rs connection.
    pub fn conn(&self) -> redis::Connection {
        self.client().get_connection().expect("connection")
    }

    /// A multiplexed async redis-rs connection.
    pub async fn async_conn(&self) -> redis::aio::MultiplexedConnection {
        self.client()
            .get_multiplexed_async_connection()
            .await
            .expect("async connection")
    }

    /// A raw connection for exact wire tests.
    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.addr)
    }

    /// A new socket with a read timeout, or why it could not connect.
    ///
    /// # Errors
    /// The connection is refused or the socket cannot be set up.
    pub fn connect(&self, read_timeout: Duration) -> std::io::Result<TcpStream> {
        let stream = TcpStream::connect(self.addr)?;
        stream.set_read_timeout(Some(read_timeout))?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    /// True while the node's thread runs (it ends on shutdown, or on a
    /// panic outside a connection task).
    pub fn alive(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Asks the node to stop (as SHUTDOWN or a signal would) and waits up
    /// to `deadline` for it to finish; true when it did.
    pub fn stop(&mut self, deadline: Duration) -> bool {
        self.state.stop.trigger();
        let until = Instant::now() + deadline;
        while self.alive() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        match self.thread.take() {
            Some(thread) if thread.is_finished() => thread.join().is_ok(),
            // Still running past the deadline: detached, as joining would
            // hang the test.
            Some(_) => false,
            None => true,
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop(DEADLINE);
    }
}

/// Serializes the tests of one binary that measure the process's memory
/// (INFO used_memory is the allocator's count for the whole process, so
/// another test's node filling up at the same time would blur it).
pub fn memory_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Panics seen on the node's threads (its runtime, maintenance and helper
/// threads), never on the test's own threads: a handler panic inside a
/// connection task would otherwise only close that connection.
pub mod panics {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Mutex, OnceLock};

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
                    Some(n) => n == super::NODE_THREAD || n.starts_with("ringcache"),
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
