//! Process-local coordination per key: [`SingleFlight`] lets the first
//! caller of a key do the work while later callers wait for its result, and
//! [`Claims`] lets at most one task hold a key at a time (the background
//! refresh). Entries are removed when the work ends, however it ends, so
//! neither map grows with the number of keys ever seen.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

/// Locks a map that stays consistent even if a holder panicked: every
/// critical section is one insert, lookup or remove.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct Flight {
    id: u64,
    /// A `watch::Receiver<Option<T>>` for the flight's result type `T`.
    result: Box<dyn Any + Send + Sync>,
}

type Flights = Arc<Mutex<HashMap<String, Flight>>>;

/// In-flight work per key; results go to every caller that joined.
#[derive(Default)]
pub(crate) struct SingleFlight {
    // A std mutex: lookups and inserts only, never held across an await.
    flights: Flights,
    next_id: AtomicU64,
}

/// The caller's part in a key's flight.
pub(crate) enum Join<T> {
    /// No flight was running: this caller does the work and must
    /// [`Leader::finish`] it.
    Lead(Leader<T>),
    /// A flight is running: wait for its result.
    Wait(Waiter<T>),
    /// A flight of another result type is running for this key (the same
    /// key used with two value types): do the work alone.
    Mismatch,
}

impl SingleFlight {
    /// Joins the flight of `key`, or starts one.
    pub(crate) fn join<T>(&self, key: &str) -> Join<T>
    where
        T: Clone + Send + Sync + 'static,
    {
        let mut flights = lock(&self.flights);
        if let Some(flight) = flights.get(key) {
            return match flight.result.downcast_ref::<watch::Receiver<Option<T>>>() {
                Some(rx) => Join::Wait(Waiter { rx: rx.clone() }),
                None => Join::Mismatch,
            };
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(None::<T>);
        flights.insert(
            key.to_owned(),
            Flight {
                id,
                result: Box::new(rx),
            },
        );
        Join::Lead(Leader {
            flights: Arc::clone(&self.flights),
            key: key.to_owned(),
            id,
            tx,
        })
    }

    /// Flights running now.
    pub(crate) fn len(&self) -> usize {
        lock(&self.flights).len()
    }
}

/// The caller doing a key's work. Dropping it ends the flight: waiters get
/// the finished result, or `None` if it was dropped unfinished.
pub(crate) struct Leader<T> {
    flights: Flights,
    key: String,
    id: u64,
    tx: watch::Sender<Option<T>>,
}

impl<T> Leader<T> {
    /// Hands `result` to every waiter and ends the flight.
    pub(crate) fn finish(self, result: T) {
        self.tx.send_replace(Some(result));
        // Drop removes the entry: after the result is visible, so a caller
        // joining in between still gets it.
    }
}

impl<T> Drop for Leader<T> {
    fn drop(&mut self) {
        let mut flights = lock(&self.flights);
        if flights.get(&self.key).is_some_and(|f| f.id == self.id) {
            flights.remove(&self.key);
        }
    }
}

/// A caller waiting for another caller's work.
pub(crate) struct Waiter<T> {
    rx: watch::Receiver<Option<T>>,
}

impl<T: Clone> Waiter<T> {
    /// The flight's result, or `None` when the leader ended without one
    /// (its task panicked or was cancelled).
    pub(crate) async fn wait(mut self) -> Option<T> {
        match self.rx.wait_for(Option::is_some).await {
            Ok(result) => result.clone(),
            Err(_) => None,
        }
    }
}

/// Keys held by one task at a time.
#[derive(Default)]
pub(crate) struct Claims {
    // A std mutex: one insert or remove per critical section.
    held: Arc<Mutex<HashSet<String>>>,
}

impl Claims {
    /// Claims `key`, or `None` when someone holds it.
    pub(crate) fn try_claim(&self, key: &str) -> Option<Claim> {
        if !lock(&self.held).insert(key.to_owned()) {
            return None;
        }
        Some(Claim {
            held: Arc::clone(&self.held),
            key: key.to_owned(),
        })
    }

    /// Keys held now.
    pub(crate) fn len(&self) -> usize {
        lock(&self.held).len()
    }
}

/// A held key, released on drop.
pub(crate) struct Claim {
    held: Arc<Mutex<HashSet<String>>>,
    key: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        lock(&self.held).remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flight of key `k` with its leader and one waiter.
    fn leader_and_waiter(flights: &SingleFlight) -> (Leader<u32>, Waiter<u32>) {
        match (flights.join::<u32>("k"), flights.join::<u32>("k")) {
            (Join::Lead(leader), Join::Wait(waiter)) => (leader, waiter),
            _ => panic!("the first caller leads, the second waits"),
        }
    }

    #[tokio::test]
    async fn waiters_get_the_leaders_result_and_the_entry_goes() {
        let flights = SingleFlight::default();
        let (leader, waiter) = leader_and_waiter(&flights);
        assert!(matches!(flights.join::<String>("k"), Join::Mismatch));
        assert_eq!(flights.len(), 1);
        leader.finish(7);
        assert_eq!(flights.len(), 0);
        assert_eq!(waiter.wait().await, Some(7));
        assert!(matches!(flights.join::<u32>("k"), Join::Lead(_)));
    }

    #[tokio::test]
    async fn a_dropped_leader_releases_its_waiters() {
        let flights = SingleFlight::default();
        let (leader, waiter) = leader_and_waiter(&flights);
        drop(leader);
        assert_eq!(waiter.wait().await, None);
        assert_eq!(flights.len(), 0);
    }

    #[test]
    fn claims_are_exclusive_and_released_on_drop() {
        let claims = Claims::default();
        let claim = claims.try_claim("k").expect("free");
        assert!(claims.try_claim("k").is_none());
        assert!(claims.try_claim("other").is_some());
        drop(claim);
        assert_eq!(claims.len(), 0);
        assert!(claims.try_claim("k").is_some());
    }
}
