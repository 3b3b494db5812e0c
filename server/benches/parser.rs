//! Request parser micro-benchmarks.
//!
//! Measures [`RequestParser::parse`] plus reading the arguments back with
//! [`RequestParser::args`], the work a connection does per request before
//! dispatching it, on buffers that are already in memory (no I/O):
//!
//! * `parser/set_small` — one RESP `SET key:000042 value-0042` frame;
//! * `parser/get_pipeline_16` — sixteen `GET` frames in one buffer, parsed
//!   back to back as a pipelined read would be (time is per 16 commands);
//! * `parser/set_1k_value` — one `SET` frame whose value is 1,024 bytes;
//! * `parser/inline_ping` — the inline (telnet-style) `PING\r\n`;
//! * `parser/incremental/*` — a `SET` frame that arrives in two halves: the
//!   first `parse` sees half the bytes and returns `Ok(None)`, the second
//!   sees the whole frame and resumes where the first stopped.
//!
//! One parser is reused across iterations, as a connection reuses its own.
//! Throughput is reported in input bytes.

use std::hint::black_box;

use criterion::{criterion_main, Criterion, Throughput};
use ringcache_server::protocol::{Limits, RequestParser};

/// Encodes one request as a RESP array of bulk strings.
fn frame(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Parses the one complete request at the start of `buf` and touches every
/// argument, as command dispatch would. Returns bytes consumed + arguments
/// so nothing can be optimised away.
#[inline]
fn parse_one(parser: &mut RequestParser, buf: &[u8]) -> usize {
    let consumed = parser
        .parse(buf)
        .expect("benchmark frames are well formed")
        .expect("benchmark frames are complete");
    let args = parser.args(buf);
    let mut total = consumed;
    for arg in args.iter_from(0) {
        total += black_box(arg).len();
    }
    total
}

fn bench_parser(c: &mut Criterion) {
    let mut group = c.benchmark_group("parser");

    let set_small = frame(&[b"SET", b"key:000042", b"value-0042"]);
    group.throughput(Throughput::Bytes(set_small.len() as u64));
    group.bench_function("set_small", |b| {
        let mut parser = RequestParser::new(Limits::default());
        b.iter(|| parse_one(&mut parser, black_box(&set_small)));
    });

    let mut pipeline = Vec::new();
    for i in 0..16 {
        pipeline.extend_from_slice(&frame(&[b"GET", format!("key:{i:06}").as_bytes()]));
    }
    group.throughput(Throughput::Bytes(pipeline.len() as u64));
    group.bench_function("get_pipeline_16", |b| {
        let mut parser = RequestParser::new(Limits::default());
        b.iter(|| {
            let buf = black_box(&pipeline[..]);
            let mut offset = 0;
            let mut total = 0;
            while offset < buf.len() {
                let rest = &buf[offset..];
                let consumed = parser
                    .parse(rest)
                    .expect("benchmark frames are well formed")
                    .expect("benchmark frames are complete");
                let args = parser.args(rest);
                total += black_box(args.get(1)).len();
                offset += consumed;
            }
            total
        });
    });

    let value = vec![b'x'; 1024];
    let set_1k = frame(&[b"SET", b"key:000042", &value]);
    group.throughput(Throughput::Bytes(set_1k.len() as u64));
    group.bench_function("set_1k_value", |b| {
        let mut parser = RequestParser::new(Limits::default());
        b.iter(|| parse_one(&mut parser, black_box(&set_1k)));
    });

    let ping = b"PING\r\n".to_vec();
    group.throughput(Throughput::Bytes(ping.len() as u64));
    group.bench_function("inline_ping", |b| {
        let mut parser = RequestParser::new(Limits::default());
        b.iter(|| parse_one(&mut parser, black_box(&ping)));
    });

    // Split each frame at its midpoint: for the small SET that falls in the
    // key's header/data, for the 1 KB SET inside the value.
    for (name, buf) in [
        ("incremental/set_small_two_halves", &set_small),
        ("incremental/set_1k_two_halves", &set_1k),
    ] {
        let half = buf.len() / 2;
        group.throughput(Throughput::Bytes(buf.len() as u64));
        group.bench_function(name, |b| {
            let mut parser = RequestParser::new(Limits::default());
            b.iter(|| {
                let buf = black_box(&buf[..]);
                let first = parser
                    .parse(&buf[..half])
                    .expect("benchmark frames are well formed");
                assert!(first.is_none(), "half a frame is incomplete");
                parse_one(&mut parser, buf)
            });
        });
    }

    group.finish();
}

/// The criterion group; a private module so the generated `pub fn` is not
/// part of the crate's (documented) surface.
mod group {
    criterion::criterion_group!(benches, super::bench_parser);
}

criterion_main!(group::benches);
