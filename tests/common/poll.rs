//! Polling with a deadline: how a test waits for something that happens
//! soon (never a fixed sleep).

use std::future::Future;
use std::time::{Duration, Instant};

/// Pause between two checks.
const PAUSE: Duration = Duration::from_millis(20);

/// Polls `check` until it returns true (then true) or `deadline` passes
/// (then false).
pub fn eventually(deadline: Duration, mut check: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + deadline;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(PAUSE);
    }
}

/// [`eventually`] for an async check, pausing on the tokio timer.
pub async fn eventually_async<F, Fut>(deadline: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let until = Instant::now() + deadline;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(PAUSE).await;
    }
}
