//! The options and outcomes of single commands: [`SetOptions`] (expiry,
//! condition, `GET`) and what `SET` and `PTTL` answer.

use std::time::Duration;

/// When a key set by [`Client::set`](crate::Client::set) expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// `EX`: after this many seconds.
    Seconds(u64),
    /// `PX`: after this many milliseconds.
    Millis(u64),
    /// `EXAT`: at this Unix time, in seconds.
    AtUnixSeconds(u64),
    /// `PXAT`: at this Unix time, in milliseconds.
    AtUnixMillis(u64),
    /// `KEEPTTL`: keep the key's current expiry.
    KeepTtl,
}

/// Write only if the key exists, or only if it does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// `NX`: only if the key does not exist.
    IfAbsent,
    /// `XX`: only if the key exists.
    IfPresent,
}

/// Options of [`Client::set`](crate::Client::set); the default writes unconditionally with no
/// expiry.
///
/// ```
/// use std::time::Duration;
/// use ringcache_client::SetOptions;
///
/// let options = SetOptions::new().ttl(Duration::from_secs(60)).if_absent();
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetOptions {
    /// When the key expires; `None` for never (and a previous TTL is cleared).
    pub expiry: Option<Expiry>,
    /// Write only if the key exists (or not).
    pub condition: Option<Condition>,
    /// `GET`: return the previous value.
    pub get: bool,
}

impl SetOptions {
    /// No expiry, unconditional, no `GET`.
    pub fn new() -> SetOptions {
        SetOptions::default()
    }

    /// Expire after `ttl`, with millisecond precision (`PX`; a TTL under
    /// 1 ms is rounded up to 1 ms).
    pub fn ttl(mut self, ttl: Duration) -> SetOptions {
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.expiry = Some(Expiry::Millis(millis));
        self
    }

    /// Expire as `expiry` says.
    pub fn expiry(mut self, expiry: Expiry) -> SetOptions {
        self.expiry = Some(expiry);
        self
    }

    /// Keep the key's current TTL (`KEEPTTL`).
    pub fn keep_ttl(self) -> SetOptions {
        self.expiry(Expiry::KeepTtl)
    }

    /// Write only if the key does not exist (`NX`).
    pub fn if_absent(mut self) -> SetOptions {
        self.condition = Some(Condition::IfAbsent);
        self
    }

    /// Write only if the key exists (`XX`).
    pub fn if_present(mut self) -> SetOptions {
        self.condition = Some(Condition::IfPresent);
        self
    }

    /// Return the previous value (`GET`) in [`SetOutcome::previous`].
    pub fn get_previous(mut self) -> SetOptions {
        self.get = true;
        self
    }

    /// The option words after `SET key value`.
    pub(crate) fn words(&self) -> Vec<Vec<u8>> {
        let mut words: Vec<Vec<u8>> = Vec::with_capacity(4);
        match self.condition {
            Some(Condition::IfAbsent) => words.push(b"NX".to_vec()),
            Some(Condition::IfPresent) => words.push(b"XX".to_vec()),
            None => {}
        }
        if self.get {
            words.push(b"GET".to_vec());
        }
        let mut timed = |word: &[u8], n: u64| {
            words.push(word.to_vec());
            words.push(n.to_string().into_bytes());
        };
        match self.expiry {
            Some(Expiry::Seconds(n)) => timed(b"EX", n),
            Some(Expiry::Millis(n)) => timed(b"PX", n),
            Some(Expiry::AtUnixSeconds(n)) => timed(b"EXAT", n),
            Some(Expiry::AtUnixMillis(n)) => timed(b"PXAT", n),
            Some(Expiry::KeepTtl) => words.push(b"KEEPTTL".to_vec()),
            None => {}
        }
        words
    }
}

/// What [`Client::set`](crate::Client::set) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetOutcome {
    /// The value was written (false when the `NX`/`XX` condition failed).
    pub written: bool,
    /// The previous value's bytes, when [`SetOptions::get`] was asked for
    /// (`None` otherwise, or when there was none); decode them with
    /// [`Client::decode_bytes`](crate::Client::decode_bytes).
    pub previous: Option<Vec<u8>>,
}

/// A key's time to live, from [`Client::ttl`](crate::Client::ttl).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// The key does not exist.
    Missing,
    /// The key exists and never expires.
    Persistent,
    /// The key expires after this long.
    ExpiresIn(Duration),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_options_become_words() {
        let words = |o: SetOptions| -> Vec<String> {
            o.words()
                .into_iter()
                .map(|w| String::from_utf8(w).expect("ascii"))
                .collect()
        };
        assert!(words(SetOptions::new()).is_empty());
        assert_eq!(
            words(
                SetOptions::new()
                    .ttl(Duration::from_millis(1500))
                    .if_absent()
                    .get_previous()
            ),
            ["NX", "GET", "PX", "1500"]
        );
        assert_eq!(words(SetOptions::new().ttl(Duration::ZERO)), ["PX", "1"]);
        assert_eq!(
            words(SetOptions::new().keep_ttl().if_present()),
            ["XX", "KEEPTTL"]
        );
        assert_eq!(
            words(SetOptions::new().expiry(Expiry::AtUnixSeconds(2_000_000_000))),
            ["EXAT", "2000000000"]
        );
        assert_eq!(
            words(SetOptions::new().expiry(Expiry::Seconds(5))),
            ["EX", "5"]
        );
        assert_eq!(
            words(SetOptions::new().expiry(Expiry::AtUnixMillis(7))),
            ["PXAT", "7"]
        );
    }
}
