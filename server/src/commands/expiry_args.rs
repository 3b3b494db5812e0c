//! Expiry options shared by SET, GETEX and the EXPIRE family: turning
//! `EX`/`PX`/`EXAT`/`PXAT` amounts into an absolute Unix-ms time with
//! Redis's validity rules.

use super::args::{invalid_expire, parse_i64, NOT_INTEGER};

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

/// The absolute expiry (Unix ms) for a SET-style option amount (SET,
/// GETEX, SETEX, PSETEX), which must be a positive integer.
///
/// # Errors
/// Redis's reply: not an integer, or an invalid expire time for `command`
/// when the amount is not positive or the arithmetic overflows.
pub fn positive_expiry(
    unit: ExpireUnit,
    amount: &[u8],
    now: u64,
    command: &str,
) -> Result<i64, String> {
    let amount = parse_i64(amount).ok_or(NOT_INTEGER)?;
    if amount <= 0 {
        return Err(invalid_expire(command));
    }
    absolute_ms(unit, amount, now).ok_or_else(|| invalid_expire(command))
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
        assert_eq!(
            absolute_ms(ExpireUnit::Seconds, i64::MAX / 1000 + 1, 0),
            None
        );
        assert_eq!(absolute_ms(ExpireUnit::Millis, i64::MAX, 1), None);
        assert_eq!(
            absolute_ms(ExpireUnit::Seconds, i64::MAX / 1000, 1_000_000),
            None
        );
        assert_eq!(stored(-7), 0);
    }

    #[test]
    fn set_style_amounts_must_be_positive_integers() {
        assert_eq!(
            positive_expiry(ExpireUnit::Seconds, b"2", 1_000, "set"),
            Ok(3_000)
        );
        assert_eq!(
            positive_expiry(ExpireUnit::UnixMillis, b"5", 1_000, "set"),
            Ok(5)
        );
        let invalid = Err("ERR invalid expire time in 'getex' command".to_string());
        assert_eq!(
            positive_expiry(ExpireUnit::Millis, b"0", 1_000, "getex"),
            invalid
        );
        assert_eq!(
            positive_expiry(ExpireUnit::Seconds, b"9223372036854775807", 0, "getex"),
            invalid
        );
        assert_eq!(
            positive_expiry(ExpireUnit::Seconds, b"x", 0, "set"),
            Err(NOT_INTEGER.to_string())
        );
    }
}
