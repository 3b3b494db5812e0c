//! One shutdown signal observed by every task: the listener stops
//! accepting, connections finish the replies in flight and close,
//! background workers return.

use tokio::sync::watch;

/// A cloneable shutdown signal.
#[derive(Clone, Debug)]
pub struct Shutdown {
    sender: watch::Sender<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown {
            sender: watch::channel(false).0,
        }
    }
}

impl Shutdown {
    /// A signal not yet triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Tells every task to stop.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    /// True once triggered.
    pub fn is_triggered(&self) -> bool {
        *self.sender.borrow()
    }

    /// Completes when the signal is triggered (at once if it already was).
    pub async fn wait(&self) {
        self.listener().wait().await;
    }

    /// A listener to keep across many waits (a background task's loop),
    /// so each wait costs no new subscription.
    pub fn listener(&self) -> ShutdownListener {
        ShutdownListener {
            receiver: self.sender.subscribe(),
        }
    }
}

/// Waits for a [`Shutdown`] signal; cheap to wait on repeatedly.
#[derive(Debug)]
pub struct ShutdownListener {
    receiver: watch::Receiver<bool>,
}

impl ShutdownListener {
    /// Completes when the signal is triggered (at once if it already was).
    pub async fn wait(&mut self) {
        // An error means the sender is gone, which cannot happen while the
        // node holds it; either way there is nothing left to wait for.
        let _ = self.receiver.wait_for(|&stop| stop).await;
    }
}
