//! The time a deferred reply spends being polled, reported once when it
//! is ready (per-command statistics count running time, not waiting).

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::Deferred;

/// A deferred reply that adds up the time spent polling it and reports it
/// once, when the reply is ready.
pub(super) struct Timed {
    pub(super) inner: Deferred,
    pub(super) spent: Duration,
    pub(super) finish: Option<Box<dyn FnOnce(Duration) + Send>>,
}

impl Future for Timed {
    type Output = Bytes;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Bytes> {
        let started = Instant::now();
        let polled = self.inner.as_mut().poll(cx);
        self.spent += started.elapsed();
        if polled.is_ready() {
            if let Some(finish) = self.finish.take() {
                finish(self.spent);
            }
        }
        polled
    }
}
