//! The sparse encoding: a run-length code of the registers after the
//! header, with Redis's three opcodes: ZERO `00xxxxxx` (1 to 64 zero
//! registers), XZERO `01xxxxxx yyyyyyyy` (1 to 16384 zero registers) and
//! VAL `1vvvvvxx` (1 to 4 registers of value 1 to 32). An update splits
//! the opcode covering the register and merges equal neighbours the way
//! Redis does, so the same additions give the same bytes.

use super::{dense, Corrupt, Histogram, HEADER, REGISTERS};

/// Largest value a VAL opcode holds; a larger count needs the dense
/// encoding.
const VAL_MAX_VALUE: u8 = 32;
/// Longest run of a VAL opcode.
const VAL_MAX_LEN: usize = 4;
/// Longest run of a ZERO opcode.
const ZERO_MAX_LEN: usize = 64;
/// Longest run of an XZERO opcode.
pub const XZERO_MAX_LEN: usize = 16384;

/// One decoded opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `run` zero registers, in `len` bytes (ZERO: 1, XZERO: 2).
    Zero { run: usize, len: usize },
    /// `run` registers of `value`.
    Val { value: u8, run: usize },
}

impl Op {
    fn run(self) -> usize {
        match self {
            Op::Zero { run, .. } | Op::Val { run, .. } => run,
        }
    }

    fn len(self) -> usize {
        match self {
            Op::Zero { len, .. } => len,
            Op::Val { .. } => 1,
        }
    }
}

/// The opcode at `at` of `bytes`. An XZERO cut by the end reads a zero
/// byte, as Redis reads its string's terminator there.
fn op_at(bytes: &[u8], at: usize) -> Op {
    let b = bytes[at];
    match b & 0xc0 {
        0x00 => Op::Zero {
            run: usize::from(b & 0x3f) + 1,
            len: 1,
        },
        0x40 => {
            let low = usize::from(bytes.get(at + 1).copied().unwrap_or(0));
            Op::Zero {
                run: ((usize::from(b & 0x3f) << 8) | low) + 1,
                len: 2,
            }
        }
        _ => Op::Val {
            value: ((b >> 2) & 0x1f) + 1,
            run: usize::from(b & 0x03) + 1,
        },
    }
}

fn val(value: u8, run: usize) -> u8 {
    0x80 | ((value - 1) << 2) | (run - 1) as u8
}

/// Appends the zero run `run` (1..=16384), as Redis writes it: ZERO up to
/// 64, XZERO above.
fn push_zeros(seq: &mut Vec<u8>, run: usize) {
    if run > ZERO_MAX_LEN {
        let n = run - 1;
        seq.push(0x40 | (n >> 8) as u8);
        seq.push((n & 0xff) as u8);
    } else {
        seq.push((run - 1) as u8);
    }
}

/// The registers of an empty HyperLogLog: XZERO opcodes covering all.
pub fn empty() -> Vec<u8> {
    let mut bytes = Vec::with_capacity(2 * REGISTERS.div_ceil(XZERO_MAX_LEN));
    let mut left = REGISTERS;
    while left > 0 {
        let run = left.min(XZERO_MAX_LEN);
        let n = run - 1;
        bytes.push(0x40 | (n >> 8) as u8);
        bytes.push((n & 0xff) as u8);
        left -= run;
    }
    bytes
}

/// What setting a sparse register did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Set {
    /// The register already held as much.
    Unchanged,
    /// The register was raised.
    Updated,
    /// The value does not fit the sparse encoding (too large a count, or
    /// the string would pass `hll-sparse-max-bytes`): convert to dense.
    Promote,
}

/// Raises register `index` to `count` in the sparse HyperLogLog `hll`
/// (header included), as Redis's `hllSparseSet` does before promotion.
///
/// # Errors
/// The opcodes do not cover the register.
pub fn set(hll: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> Result<Set, Corrupt> {
    if count > VAL_MAX_VALUE {
        return Ok(Set::Promote);
    }
    // Find the opcode covering the register, and the one before it.
    let (mut at, mut first, mut prev, mut span) = (HEADER, 0usize, None, 0usize);
    while at < hll.len() {
        let op = op_at(hll, at);
        span = op.run();
        if index < first + span {
            break;
        }
        prev = Some(at);
        at += op.len();
        first += span;
    }
    if span == 0 || at >= hll.len() {
        return Err(Corrupt);
    }
    let op = op_at(hll, at);
    match op {
        Op::Val { value, .. } if value >= count => return Ok(Set::Unchanged),
        // A run of one: the opcode becomes the new value in place.
        Op::Val { run: 1, .. } | Op::Zero { run: 1, len: 1 } => hll[at] = val(count, 1),
        _ => {
            let last = first + span - 1;
            let mut seq = Vec::with_capacity(5);
            let before = index - first;
            let after = last - index;
            match op {
                Op::Zero { .. } => {
                    if before > 0 {
                        push_zeros(&mut seq, before);
                    }
                    seq.push(val(count, 1));
                    if after > 0 {
                        push_zeros(&mut seq, after);
                    }
                }
                Op::Val { value, .. } => {
                    if before > 0 {
                        seq.push(val(value, before));
                    }
                    seq.push(val(count, 1));
                    if after > 0 {
                        seq.push(val(value, after));
                    }
                }
            }
            let new_len = hll.len() + seq.len() - op.len();
            if seq.len() > op.len() && new_len > max_bytes {
                return Ok(Set::Promote);
            }
            // An XZERO cut by the end has one byte in the string: Redis
            // writes the new opcodes over it and counts the length as if it
            // had two, so the last new byte falls off the end.
            let end = (at + op.len()).min(hll.len());
            hll.splice(at..end, seq);
            hll.truncate(new_len);
        }
    }
    merge_neighbours(hll, prev.unwrap_or(HEADER));
    super::invalidate(hll);
    Ok(Set::Updated)
}

/// Merges adjacent VAL opcodes of equal value whose runs fit one opcode,
/// scanning up to five opcodes from `at`, as Redis does after an update.
fn merge_neighbours(hll: &mut Vec<u8>, mut at: usize) {
    let mut scans = 5;
    while at < hll.len() && scans > 0 {
        scans -= 1;
        let op = op_at(hll, at);
        let Op::Val { value, run } = op else {
            at += op.len();
            continue;
        };
        if let Some(Op::Val { value: v2, run: r2 }) =
            (at + 1 < hll.len()).then(|| op_at(hll, at + 1))
        {
            if value == v2 && run + r2 <= VAL_MAX_LEN {
                hll[at + 1] = val(value, run + r2);
                hll.remove(at);
                // Try the merged opcode with its right neighbour too.
                continue;
            }
        }
        at += 1;
    }
}

/// The dense registers the sparse `hll` encodes, as Redis's
/// `hllSparseToDense` reads them.
///
/// # Errors
/// The opcodes do not cover exactly the 16384 registers.
pub fn to_dense(hll: &[u8]) -> Result<Vec<u8>, Corrupt> {
    let mut registers = vec![0u8; dense::BYTES];
    let mut index = 0;
    let mut at = HEADER;
    while at < hll.len() {
        let op = op_at(hll, at);
        if let Op::Val { value, run } = op {
            // A run past the last register is refused there and then, as
            // redis-server 7.0.15 does, even if the count ends right.
            if index + run > REGISTERS {
                return Err(Corrupt);
            }
            for i in index..index + run {
                dense::set(&mut registers, i, value);
            }
        }
        index += op.run();
        at += op.len();
    }
    if index == REGISTERS {
        Ok(registers)
    } else {
        Err(Corrupt)
    }
}

/// Raises each `max[i]` to register i's value, as Redis's `hllMerge`.
///
/// # Errors
/// The opcodes do not cover exactly the 16384 registers.
pub fn merge_into(hll: &[u8], max: &mut [u8; REGISTERS]) -> Result<(), Corrupt> {
    let mut index = 0;
    let mut at = HEADER;
    while at < hll.len() {
        let op = op_at(hll, at);
        if let Op::Val { value, run } = op {
            if index + run > REGISTERS {
                return Err(Corrupt);
            }
            for slot in &mut max[index..index + run] {
                *slot = (*slot).max(value);
            }
        }
        index += op.run();
        at += op.len();
    }
    if index == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// Adds the registers' values to `histogram`.
///
/// # Errors
/// The opcodes do not cover exactly the 16384 registers.
pub fn histogram(hll: &[u8], histogram: &mut Histogram) -> Result<(), Corrupt> {
    let mut index = 0;
    let mut at = HEADER;
    while at < hll.len() {
        let op = op_at(hll, at);
        let value = match op {
            Op::Zero { .. } => 0,
            Op::Val { value, .. } => value,
        };
        histogram[usize::from(value)] += op.run() as u32;
        index += op.run();
        at += op.len();
    }
    if index == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}
