//! Expiry options shared by SET, GETEX and the EXPIRE family: turning
//! `EX`/`PX`/`EXAT`/`PXAT` amounts into an absolute Unix-ms time with
//! Redis's validity rules.

/// The unit and reference of an expiry amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpireUnit {
    /// EX / EXPIRE / SETEX: seconds from now.
    Seconds,
    /// PX / PEXPIRE / PSETEX: milliseconds from now.
    Millis,
    /// EXAT / EXPIREAT: Unix seconds.
    UnixSeconds,
    /// PXAT / PEXPIREAT: Unix milliseconds.
    UnixMillis,
}

impl ExpireUnit {
    /// The unit an option name selects, if it is one.
    pub fn from_option(arg: &[u8]) -> Option<ExpireUnit> {
        [
            ("ex", ExpireUnit::Seconds),
            ("px", ExpireUnit::Millis),
            ("exat", ExpireUnit::UnixSeconds),
            ("pxat", ExpireUnit::UnixMillis),
        ]
        .into_iter()
        .find(|(name, _)| arg.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, unit)| unit)
    }
}

/// The absolute expiry (Unix ms, possibly in the past or negative) for
/// `amount` in `unit` at `now`, or None when the arithmetic overflows.
pub fn absolute_ms(unit: ExpireUnit, amount: i64, now: u64) -> Option<i64> {
    let ms = match unit {
        ExpireUnit::Seconds | ExpireUnit::UnixSeconds => amount.checked_mul(1000)?,
        ExpireUnit::Millis | ExpireUnit::UnixMillis => amount,
    };
    match unit {
        ExpireUnit::Seconds | ExpireUnit::Millis => ms.checked_add(i64::try_from(now).ok()?),
        ExpireUnit::UnixSeconds | ExpireUnit::UnixMillis => Some(ms),
    }
}

/// The stored form of an absolute expiry: times at or before the epoch
/// become 0, which has always passed.
pub fn stored(at: i64) -> u64 {
    at.max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_absolute() {
        assert_eq!(absolute_ms(ExpireUnit::Seconds, 10, 1_000), Some(11_000));
        assert_eq!(absolute_ms(ExpireUnit::Millis, 10, 1_000), Some(1_010));
        assert_eq!(absolute_ms(ExpireUnit::UnixSeconds, 5, 1_000), Some(5_000));
        assert_eq!(absolute_ms(ExpireUnit::UnixMillis, -5, 1_000), Some(-5));
    }

    #[test]
    fn overflow_is_detected() {
        assert_eq!(absolute_ms(ExpireUnit::Seconds, i64::MAX / 1000 + 1, 0), None);
        assert_eq!(absolute_ms(ExpireUnit::Millis, i64::MAX, 1), None);
        assert_eq!(absolute_ms(ExpireUnit::Seconds, i64::MAX / 1000, 1_000_000), None);
        assert_eq!(stored(-7), 0);
    }
}
