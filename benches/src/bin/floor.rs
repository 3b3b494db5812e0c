//! `ringcache-floor`: the least a Redis-protocol server can spend per
//! request on this machine's sockets, as a yardstick for throughput
//! targets. One thread, one epoll set, one read and one write per ready
//! connection per pass, and answers that need no data: GET answers a
//! fixed value of `--value-size` bytes, SET `+OK`, PING `+PONG`, CLUSTER
//! SLOTS a map of even slot ranges over `--cluster-ports`, anything else
//! `+OK`. It stores nothing and is not a
//! cache: the CPU it spends per request is the kernel's socket path plus a
//! scan of the request, which any server pays at least.
//!
//! ```sh
//! ringcache-floor --port 17620 --cluster-ports 17620,17621,17622
//! ```

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd};

use clap::Parser;
use rustix::event::epoll;

/// Largest request buffered for one connection; a longer one closes it.
const MAX_REQUEST: usize = 1 << 20;
/// Bytes read per call.
const READ_CHUNK: usize = 64 * 1024;
/// Epoll data of the listener (connections use their file descriptor).
const LISTENER: u64 = u64::MAX;

#[derive(Parser, Debug)]
#[command(
    name = "ringcache-floor",
    about = "A Redis-protocol server that stores nothing: the socket path's cost per request"
)]
struct Args {
    /// Port on 127.0.0.1.
    #[arg(long)]
    port: u16,
    /// Bytes of the value every GET answers.
    #[arg(long, default_value_t = 32)]
    value_size: usize,
    /// Ports of the nodes CLUSTER SLOTS describes, each owning an even
    /// range of the slots; none: no map.
    #[arg(long, value_delimiter = ',')]
    cluster_ports: Vec<u16>,
}

/// One client: what it sent that is not yet a whole request, and replies
/// the socket did not take yet.
struct Conn {
    stream: TcpStream,
    input: Vec<u8>,
    output: Vec<u8>,
}

/// The fixed answers.
struct Answers {
    get: Vec<u8>,
    cluster_slots: Vec<u8>,
}

impl Answers {
    fn new(args: &Args) -> Answers {
        let mut get = format!("${}\r\n", args.value_size).into_bytes();
        get.resize(get.len() + args.value_size, b'x');
        get.extend_from_slice(b"\r\n");
        Answers {
            get,
            cluster_slots: cluster_slots(&args.cluster_ports),
        }
    }

    /// The reply to a request whose first argument is `name`.
    fn to(&self, name: &[u8]) -> &[u8] {
        if name.eq_ignore_ascii_case(b"GET") {
            &self.get
        } else if name.eq_ignore_ascii_case(b"PING") {
            b"+PONG\r\n"
        } else if name.eq_ignore_ascii_case(b"CLUSTER") {
            &self.cluster_slots
        } else {
            b"+OK\r\n"
        }
    }
}

/// CLUSTER SLOTS for `ports`: 16384 slots in even ranges, the last
/// taking the rest.
fn cluster_slots(ports: &[u16]) -> Vec<u8> {
    if ports.is_empty() {
        return b"-ERR this node has no slot map\r\n".to_vec();
    }
    let per = 16384 / ports.len();
    let mut out = format!("*{}\r\n", ports.len()).into_bytes();
    for (i, port) in ports.iter().enumerate() {
        let first = i * per;
        let last = if i + 1 == ports.len() {
            16383
        } else {
            first + per - 1
        };
        let id = format!("{:040x}", i + 1);
        out.extend_from_slice(
            format!(
                "*3\r\n:{first}\r\n:{last}\r\n*3\r\n$9\r\n127.0.0.1\r\n:{port}\r\n${}\r\n{id}\r\n",
                id.len()
            )
            .as_bytes(),
        );
    }
    out
}

/// Where the request at the start of `input` ends and its first argument,
/// if it is whole; `Err` if it is not a RESP array of bulk strings.
fn next_request(input: &[u8]) -> Result<Option<(usize, &[u8])>, ()> {
    let Some((count, mut at)) = header(input, 0, b'*')? else {
        return Ok(None);
    };
    let mut name: &[u8] = &[];
    for i in 0..count {
        let Some((len, start)) = header(input, at, b'$')? else {
            return Ok(None);
        };
        let end = start + len;
        if input.len() < end + 2 {
            return Ok(None);
        }
        if i == 0 {
            name = &input[start..end];
        }
        at = end + 2;
    }
    Ok(Some((at, name)))
}

/// Reads `<kind><number>\r\n` at `at`: the number and where its line ends.
fn header(input: &[u8], at: usize, kind: u8) -> Result<Option<(usize, usize)>, ()> {
    let Some(&first) = input.get(at) else {
        return Ok(None);
    };
    if first != kind {
        return Err(());
    }
    let Some(newline) = input[at..].iter().position(|&b| b == b'\n') else {
        return Ok(None);
    };
    let digits = input[at + 1..at + newline].strip_suffix(b"\r").ok_or(())?;
    let number = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse::<usize>().ok())
        .filter(|&n| n <= MAX_REQUEST)
        .ok_or(())?;
    Ok(Some((number, at + newline + 1)))
}

/// Serves one readable connection: one read, every whole request answered
/// with one write. False when it is to be closed.
fn serve(conn: &mut Conn, answers: &Answers, chunk: &mut [u8]) -> bool {
    match conn.stream.read(chunk) {
        Ok(0) => return false,
        Ok(n) => conn.input.extend_from_slice(&chunk[..n]),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
        Err(_) => return false,
    }
    let mut used = 0;
    loop {
        match next_request(&conn.input[used..]) {
            Ok(Some((len, name))) => {
                conn.output.extend_from_slice(answers.to(name));
                used += len;
            }
            Ok(None) => break,
            Err(()) => return false,
        }
    }
    conn.input.drain(..used);
    conn.input.len() <= MAX_REQUEST && flush(conn)
}

/// Writes what the socket takes; false on a broken connection.
fn flush(conn: &mut Conn) -> bool {
    while !conn.output.is_empty() {
        match conn.stream.write(&conn.output) {
            Ok(n) => {
                conn.output.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(_) => return false,
        }
    }
    true
}

/// Adds `fd` to the epoll set for reading, known by `id`.
fn watch(set: &impl AsFd, fd: impl AsFd, id: u64) -> io::Result<()> {
    epoll::add(
        set,
        fd,
        epoll::EventData::new_u64(id),
        epoll::EventFlags::IN,
    )?;
    Ok(())
}

fn interest(conn: &Conn) -> epoll::EventFlags {
    if conn.output.is_empty() {
        epoll::EventFlags::IN
    } else {
        epoll::EventFlags::IN | epoll::EventFlags::OUT
    }
}

fn main() -> io::Result<()> {
    let args = Args::parse();
    let answers = Answers::new(&args);
    let listener = TcpListener::bind(("127.0.0.1", args.port))?;
    listener.set_nonblocking(true)?;
    let set = epoll::create(epoll::CreateFlags::CLOEXEC)?;
    watch(&set, listener.as_fd(), LISTENER)?;
    let mut conns: HashMap<u64, Conn> = HashMap::new();
    let mut chunk = vec![0u8; READ_CHUNK];
    let mut events = vec![
        epoll::Event {
            flags: epoll::EventFlags::empty(),
            data: epoll::EventData::new_u64(0),
        };
        256
    ];
    loop {
        let ready = match epoll::wait(&set, &mut events[..], None) {
            Ok(n) => n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        for event in &events[..ready] {
            let (id, flags) = (event.data.u64(), event.flags);
            if id == LISTENER {
                while let Ok((stream, _)) = listener.accept() {
                    stream.set_nonblocking(true)?;
                    stream.set_nodelay(true)?;
                    let fd = u64::try_from(stream.as_raw_fd())
                        .map_err(|_| io::Error::other("negative descriptor"))?;
                    watch(&set, stream.as_fd(), fd)?;
                    conns.insert(
                        fd,
                        Conn {
                            stream,
                            input: Vec::new(),
                            output: Vec::new(),
                        },
                    );
                }
                continue;
            }
            let Some(conn) = conns.get_mut(&id) else {
                continue;
            };
            let before = interest(conn);
            let open = if flags.contains(epoll::EventFlags::OUT) && !conn.output.is_empty() {
                flush(conn)
            } else {
                serve(conn, &answers, &mut chunk)
            };
            if !open {
                let _ = epoll::delete(&set, conn.stream.as_fd());
                conns.remove(&id);
            } else if interest(conn) != before {
                epoll::modify(
                    &set,
                    conn.stream.as_fd(),
                    epoll::EventData::new_u64(id),
                    interest(conn),
                )?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_split_where_they_end() {
        let input = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPI";
        let (len, name) = next_request(input).unwrap().unwrap();
        assert_eq!((len, name), (20, &b"GET"[..]));
        assert_eq!(next_request(&input[len..]), Ok(None));
        assert_eq!(next_request(b"+PING\r\n"), Err(()));
        assert_eq!(next_request(b"*1\r\n$x\r\n"), Err(()));
    }

    #[test]
    fn the_slot_map_covers_every_slot_once() {
        let map = String::from_utf8(cluster_slots(&[1, 2, 3])).unwrap();
        assert!(map.starts_with("*3\r\n*3\r\n:0\r\n:5460\r\n"), "{map}");
        assert!(map.contains(":5461\r\n:10921\r\n"), "{map}");
        assert!(map.contains(":10922\r\n:16383\r\n"), "{map}");
    }
}
