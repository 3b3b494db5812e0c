//! The link against fake peers on in-memory streams.

use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;
use crate::resp::{self, Value};

fn collect(count: usize) -> (Batch, BatchReply) {
    Batch::new(count, None)
}

/// The frames of a reply, as a vector.
fn frames_of(frames: Frames) -> Vec<Bytes> {
    frames.iter().cloned().collect()
}

fn command(args: &[&str]) -> Bytes {
    let mut out = BytesMut::new();
    resp::write_command(&mut out, args);
    out.freeze()
}

/// Starts a link on one end of an in-memory stream; the other end is
/// returned for the test to play the peer.
fn start(config: LinkConfig) -> (Link<Batch>, DuplexStream, tokio::task::JoinHandle<LinkEnd>) {
    let (near, far) = tokio::io::duplex(64 * 1024);
    let (link, queue) = channel(config);
    let (reader, writer) = tokio::io::split(near);
    let task = tokio::spawn(run(reader, writer, queue));
    (link, far, task)
}

/// A peer answering `ECHO x` with `$x` and anything else with `+PONG`,
/// reading everything available before answering it.
async fn echo_peer(mut stream: DuplexStream) {
    let mut buf = BytesMut::new();
    loop {
        match stream.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut out = BytesMut::new();
        while let Ok(Some((value, used))) = resp::decode(&buf) {
            buf.advance(used);
            match value {
                Value::Array(args) if args.first() == Some(&Value::Bulk(b"ECHO".to_vec())) => {
                    if let Some(Value::Bulk(text)) = args.get(1) {
                        resp::write_bulk(&mut out, text);
                    }
                }
                _ => resp::write_simple(&mut out, b"PONG"),
            }
        }
        if stream.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// Reads from `stream` until `n` commands arrived; returns them.
async fn read_commands(stream: &mut DuplexStream, n: usize) -> Vec<Value> {
    let mut buf = BytesMut::new();
    let mut commands = Vec::new();
    while commands.len() < n {
        while let Ok(Some((value, used))) = resp::decode(&buf) {
            buf.advance(used);
            commands.push(value);
        }
        if commands.len() >= n {
            break;
        }
        let read = stream.read_buf(&mut buf).await.expect("read");
        assert!(read > 0, "the link closed early");
    }
    commands
}

#[tokio::test]
async fn concurrent_requests_get_their_own_replies() {
    let gauge = Arc::new(AtomicUsize::new(0));
    let config = LinkConfig {
        in_flight_gauge: Some(Arc::clone(&gauge)),
        ..LinkConfig::default()
    };
    let (link, far, task) = start(config);
    tokio::spawn(echo_peer(far));
    let mut waits = Vec::new();
    for i in 0..500 {
        let text = format!("message {i}");
        let (waiter, reply) = collect(1);
        link.send(command(&["ECHO", &text]), waiter)
            .expect("queued");
        waits.push((text, reply));
    }
    for (text, reply) in waits {
        let frames = reply.await.expect("answered").expect("replies");
        let mut expected = BytesMut::new();
        resp::write_bulk(&mut expected, text.as_bytes());
        assert_eq!(frames_of(frames), vec![expected.freeze()]);
    }
    assert_eq!(gauge.load(Ordering::Relaxed), 0);
    drop(link);
    let end = task.await.expect("task");
    assert_eq!(end.reason, EndReason::Released);
    assert_eq!((end.unanswered, end.unsent), (0, 0));
}

#[tokio::test]
async fn a_request_of_many_commands_gets_its_replies_in_order() {
    let (link, far, _task) = start(LinkConfig {
        max_in_flight: 2,
        ..LinkConfig::default()
    });
    tokio::spawn(echo_peer(far));
    let mut frames = BytesMut::new();
    for i in 0..10 {
        resp::write_command(&mut frames, &["ECHO", &i.to_string()]);
    }
    // Ten commands pass a budget of two in flight: alone, at once.
    let (waiter, reply) = collect(10);
    link.send(frames.freeze(), waiter).expect("queued");
    let replies = reply.await.expect("answered").expect("replies");
    let texts: Vec<Value> = replies
        .iter()
        .map(|f| resp::decode(f).expect("valid").expect("whole").0)
        .collect();
    let expected: Vec<Value> = (0..10)
        .map(|i| Value::Bulk(i.to_string().into_bytes()))
        .collect();
    assert_eq!(texts, expected);
}

#[tokio::test]
async fn the_in_flight_budget_holds_requests_back_until_replies_return() {
    let (link, mut far, _task) = start(LinkConfig {
        max_in_flight: 2,
        ..LinkConfig::default()
    });
    let mut replies = Vec::new();
    for _ in 0..3 {
        let (waiter, reply) = collect(1);
        link.send(command(&["PING"]), waiter).expect("queued");
        replies.push(reply);
    }
    // Two are written; the third waits for room.
    let first = read_commands(&mut far, 2).await;
    assert_eq!(first.len(), 2);
    let mut probe = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(100), far.read(&mut probe)).await;
    assert!(
        early.is_err(),
        "a third command was written over the budget"
    );
    far.write_all(b"+a\r\n").await.expect("write");
    let third = read_commands(&mut far, 1).await;
    assert_eq!(third.len(), 1);
    far.write_all(b"+b\r\n+c\r\n").await.expect("write");
    for (reply, text) in replies.into_iter().zip(["+a\r\n", "+b\r\n", "+c\r\n"]) {
        let frames = reply.await.expect("answered").expect("replies");
        assert_eq!(frames_of(frames), vec![Bytes::from(text)]);
    }
}

#[tokio::test]
async fn a_full_queue_sheds_requests() {
    let (link, _far, _task) = start(LinkConfig {
        queue_capacity: 2,
        max_in_flight: 1,
        ..LinkConfig::default()
    });
    let mut shed = 0;
    let mut kept = Vec::new();
    for _ in 0..20 {
        let (waiter, reply) = collect(1);
        match link.send(command(&["PING"]), waiter) {
            Ok(()) => kept.push(reply),
            Err(SendError::Full(request)) => {
                assert_eq!(request.waiter.count(), 1);
                shed += 1;
            }
            Err(SendError::Closed(_)) => panic!("the link is alive"),
        }
        tokio::task::yield_now().await;
    }
    // One in flight, one held by the writer, two queued: the rest shed.
    assert!(shed >= 16, "{shed} shed");
    assert!(!kept.is_empty());
}

#[tokio::test]
async fn a_lost_link_fails_written_and_queued_requests_differently() {
    let gauge = Arc::new(AtomicUsize::new(0));
    let (link, mut far, task) = start(LinkConfig {
        max_in_flight: 1,
        in_flight_gauge: Some(Arc::clone(&gauge)),
        ..LinkConfig::default()
    });
    let (first, first_reply) = collect(1);
    link.send(command(&["PING"]), first).expect("queued");
    let (second, second_reply) = collect(2);
    link.send(command(&["PING"]), second).expect("queued");
    read_commands(&mut far, 1).await;
    drop(far);
    let first = first_reply.await.expect("failed").expect_err("lost");
    assert!(first.was_written(), "{first}");
    let second = second_reply.await.expect("failed").expect_err("lost");
    assert!(!second.was_written(), "{second}");
    assert_eq!(second.reason(), "closed by the peer");
    let end = task.await.expect("task");
    assert_eq!(end.reason, EndReason::PeerClosed);
    assert_eq!((end.unanswered, end.unsent), (1, 2));
    assert_eq!(gauge.load(Ordering::Relaxed), 0);
    assert!(link.is_closed());
    let (late, _) = collect(1);
    assert!(matches!(
        link.send(command(&["PING"]), late),
        Err(SendError::Closed(_))
    ));
}

#[tokio::test]
async fn abort_stops_the_link_even_before_it_runs() {
    let (link, queue) = channel::<Batch>(LinkConfig::default());
    let (waiter, reply) = collect(1);
    link.send(command(&["PING"]), waiter).expect("queued");
    link.abort();
    let (near, _far) = tokio::io::duplex(1024);
    let (reader, writer) = tokio::io::split(near);
    let end = run(reader, writer, queue).await;
    assert_eq!(end.reason, EndReason::Aborted);
    let error = reply.await.expect("failed").expect_err("aborted");
    assert!(error.reason().contains("aborted"), "{error}");
}

#[tokio::test]
async fn a_queue_without_a_stream_fails_its_requests_as_unsent() {
    let (link, queue) = channel::<Batch>(LinkConfig::default());
    let (waiter, reply) = collect(3);
    link.send(command(&["PING"]), waiter).expect("queued");
    assert_eq!(queue.fail("connection refused"), 3);
    let error = reply.await.expect("failed").expect_err("unsent");
    assert!(!error.was_written());
    assert_eq!(error.reason(), "connection refused");
    assert!(link.is_closed());
}

#[tokio::test]
async fn a_reply_nobody_asked_for_stops_the_link() {
    let (_link, mut far, task) = start(LinkConfig::default());
    far.write_all(b"+surprise\r\n").await.expect("write");
    let end = task.await.expect("task");
    assert!(matches!(end.reason, EndReason::Protocol(_)), "{end:?}");
}

#[tokio::test]
async fn garbage_stops_the_link_and_fails_the_waiter() {
    let (link, mut far, task) = start(LinkConfig::default());
    let (waiter, reply) = collect(1);
    link.send(command(&["PING"]), waiter).expect("queued");
    read_commands(&mut far, 1).await;
    far.write_all(b"?what\r\n").await.expect("write");
    let error = reply.await.expect("failed").expect_err("garbage");
    assert!(error.was_written());
    assert!(matches!(
        task.await.expect("task").reason,
        EndReason::Protocol(_)
    ));
}

#[tokio::test]
async fn a_peer_that_stops_answering_is_let_go() {
    let (link, mut far, task) = start(LinkConfig {
        stale_after: Some(Duration::from_millis(50)),
        ..LinkConfig::default()
    });
    let (waiter, reply) = Batch::new(1, Some(Instant::now() + Duration::from_millis(50)));
    link.send(command(&["PING"]), waiter).expect("queued");
    read_commands(&mut far, 1).await;
    let end = tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("the stuck link was kept")
        .expect("task");
    assert_eq!(end.reason, EndReason::Stale(Duration::from_millis(50)));
    assert!(reply.await.expect("failed").is_err());
}

#[tokio::test]
async fn abandoned_requests_are_not_written() {
    let (link, mut far, _task) = start(LinkConfig::default());
    let (waiter, reply) = collect(1);
    drop(reply);
    // Queued behind nothing, but the writer may already be waiting: send
    // the abandoned one and a live one, then check only the live one came.
    link.send(command(&["ECHO", "gone"]), waiter)
        .expect("queued");
    let (waiter, reply) = collect(1);
    link.send(command(&["ECHO", "live"]), waiter)
        .expect("queued");
    let got = read_commands(&mut far, 1).await;
    assert_eq!(
        got[0],
        Value::Array(vec![
            Value::Bulk(b"ECHO".to_vec()),
            Value::Bulk(b"live".to_vec())
        ])
    );
    far.write_all(b"$4\r\nlive\r\n").await.expect("write");
    let frames = reply.await.expect("answered").expect("replies");
    assert_eq!(
        frames_of(frames),
        vec![Bytes::from_static(b"$4\r\nlive\r\n")]
    );
}

#[tokio::test]
async fn replies_split_across_reads_are_joined() {
    let (link, mut far, _task) = start(LinkConfig::default());
    let (waiter, reply) = collect(2);
    let mut frames = BytesMut::from(&command(&["GET", "a"])[..]);
    frames.extend_from_slice(&command(&["GET", "b"]));
    link.send(frames.freeze(), waiter).expect("queued");
    read_commands(&mut far, 2).await;
    let answer = b"$5\r\nhello\r\n*2\r\n:1\r\n$-1\r\n";
    for byte in answer {
        far.write_all(&[*byte]).await.expect("write");
        far.flush().await.expect("flush");
        tokio::task::yield_now().await;
    }
    let frames = reply.await.expect("answered").expect("replies");
    assert_eq!(
        frames_of(frames),
        vec![
            Bytes::from_static(b"$5\r\nhello\r\n"),
            Bytes::from_static(b"*2\r\n:1\r\n$-1\r\n")
        ]
    );
}

#[tokio::test]
async fn pushes_go_to_the_sink_before_later_replies() {
    let seen: Arc<Mutex<Vec<Bytes>>> = Arc::default();
    let sink_seen = Arc::clone(&seen);
    let (link, mut far, _task) = start(LinkConfig {
        pushes: Some(PushSink(Arc::new(move |frame| {
            lock(&sink_seen).push(frame);
        }))),
        ..LinkConfig::default()
    });
    let (waiter, first) = collect(1);
    link.send(command(&["GET", "k"]), waiter).expect("sent");
    read_commands(&mut far, 1).await;
    let push = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n";
    let mut out = Vec::new();
    out.extend_from_slice(push);
    out.extend_from_slice(b"$3\r\nold\r\n");
    far.write_all(&out).await.expect("write");
    let replies = frames_of(first.await.expect("delivered").expect("replies"));
    assert_eq!(replies, vec![Bytes::from_static(b"$3\r\nold\r\n")]);
    // The push was cut before the reply after it was handed over.
    assert_eq!(*lock(&seen), vec![Bytes::from_static(push)]);
}
