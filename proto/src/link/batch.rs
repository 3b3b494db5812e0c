//! A stock [`Waiter`] for callers that want all of a request's replies at
//! once, through a oneshot: the client's connections use it.

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{LinkError, Waiter};

/// The reply frames of one request, in order. Most requests are one
/// command: its frame is kept without a vector.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Frames(Held);

#[derive(Debug, Default, Clone, PartialEq, Eq)]
enum Held {
    #[default]
    None,
    One(Bytes),
    Many(Vec<Bytes>),
}

impl Frames {
    /// Room for `count` frames.
    fn with_capacity(count: usize) -> Frames {
        Frames(if count > 1 {
            Held::Many(Vec::with_capacity(count.min(1024)))
        } else {
            Held::None
        })
    }

    fn push(&mut self, frame: Bytes) {
        self.0 = match std::mem::take(&mut self.0) {
            Held::None => Held::One(frame),
            Held::One(first) => Held::Many(vec![first, frame]),
            Held::Many(mut all) => {
                all.push(frame);
                Held::Many(all)
            }
        };
    }

    /// The frames, in reply order.
    pub fn iter(&self) -> std::slice::Iter<'_, Bytes> {
        match &self.0 {
            Held::None => [].iter(),
            Held::One(frame) => std::slice::from_ref(frame).iter(),
            Held::Many(all) => all.iter(),
        }
    }

    /// How many frames.
    pub fn len(&self) -> usize {
        self.iter().len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a [`Batch`] delivers: every frame, or why the link stopped first.
pub type BatchReply = oneshot::Receiver<Result<Frames, LinkError>>;

/// Collects a request's `count` reply frames and sends them together.
#[derive(Debug)]
pub struct Batch {
    count: usize,
    deadline: Option<Instant>,
    frames: Frames,
    tx: oneshot::Sender<Result<Frames, LinkError>>,
}

impl Batch {
    /// A waiter for `count` replies, wanted by `deadline` (for
    /// [`LinkConfig::stale_after`](super::LinkConfig::stale_after)), and
    /// where its result arrives. Dropping the receiver abandons the request
    /// if it was not written yet.
    pub fn new(count: usize, deadline: Option<Instant>) -> (Batch, BatchReply) {
        let (tx, rx) = oneshot::channel();
        let batch = Batch {
            count,
            deadline,
            frames: Frames::with_capacity(count),
            tx,
        };
        (batch, rx)
    }
}

impl Waiter for Batch {
    fn count(&self) -> usize {
        self.count
    }

    fn is_abandoned(&self) -> bool {
        self.tx.is_closed()
    }

    fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    fn reply(&mut self, frame: Bytes) {
        self.frames.push(frame);
    }

    fn finish(self) {
        // The caller may have given up: nothing to do then.
        let _ = self.tx.send(Ok(self.frames));
    }

    fn fail(self, error: LinkError) {
        let _ = self.tx.send(Err(error));
    }
}
