//! The transaction state of the differential run's connection pair, as
//! redis-server's replies show it: which commands were queued since MULTI
//! (so EXEC's array is compared element by element, each by its own
//! command's rule), and whether a state check or a re-sync must wait for
//! the transaction to end (inside MULTI it would be queued).

use crate::common::wire::Frame;

/// The commands queued since MULTI, while a transaction is open.
#[derive(Default)]
pub struct Tx {
    queued: Option<Vec<Vec<Vec<u8>>>>,
}

/// What a command did to the transaction state.
pub enum Step {
    /// Nothing that concerns EXEC.
    Other,
    /// EXEC ended a transaction that had queued these commands.
    Exec(Vec<Vec<Vec<u8>>>),
    /// DISCARD or EXEC ended a transaction (no comparison by element).
    Ended,
}

impl Tx {
    /// True between MULTI and EXEC/DISCARD.
    pub fn open(&self) -> bool {
        self.queued.is_some()
    }

    /// Follows `argv`, answered `redis` by redis-server.
    pub fn follow(&mut self, argv: &[Vec<u8>], redis: &Frame) -> Step {
        let is = |name: &[u8]| argv[0].eq_ignore_ascii_case(name);
        let Some(queued) = self.queued.as_mut() else {
            if is(b"multi") && *redis == Frame::Simple(b"OK".to_vec()) {
                self.queued = Some(Vec::new());
            }
            return Step::Other;
        };
        let aborted = redis
            .error_text()
            .is_some_and(|e| e.starts_with("EXECABORT"));
        if is(b"exec") && (aborted || !redis.is_error()) {
            // EXECABORT (a queueing error, or EXEC itself refused) ends
            // the transaction as EXEC does.
            let queued = self.queued.take().unwrap_or_default();
            return if aborted {
                Step::Ended
            } else {
                Step::Exec(queued)
            };
        }
        if is(b"discard") && !redis.is_error() {
            self.queued = None;
            return Step::Ended;
        }
        if *redis == Frame::Simple(b"QUEUED".to_vec()) {
            queued.push(argv.to_vec());
        }
        Step::Other
    }
}
