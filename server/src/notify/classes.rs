//! The event classes of `notify-keyspace-events`, with Redis's letters:
//! how a setting is read (any order, `A` for most classes) and how CONFIG
//! GET prints it back (Redis's canonical order).

use std::fmt;

/// A set of event classes, as the `notify-keyspace-events` letters name
/// them (Redis's `NOTIFY_*` bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Classes(pub u32);

impl Classes {
    /// None: notifications off (the default).
    pub const NONE: Classes = Classes(0);
    /// `K`: publish on `__keyspace@<db>__:<key>`.
    pub const KEYSPACE: Classes = Classes(1);
    /// `E`: publish on `__keyevent@<db>__:<event>`.
    pub const KEYEVENT: Classes = Classes(1 << 1);
    /// `g`: generic commands (DEL, EXPIRE, RENAME, ...).
    pub const GENERIC: Classes = Classes(1 << 2);
    /// `$`: string commands.
    pub const STRING: Classes = Classes(1 << 3);
    /// `l`: list commands.
    pub const LIST: Classes = Classes(1 << 4);
    /// `s`: set commands.
    pub const SET: Classes = Classes(1 << 5);
    /// `h`: hash commands.
    pub const HASH: Classes = Classes(1 << 6);
    /// `z`: sorted set commands.
    pub const ZSET: Classes = Classes(1 << 7);
    /// `x`: keys expired.
    pub const EXPIRED: Classes = Classes(1 << 8);
    /// `e`: keys evicted.
    pub const EVICTED: Classes = Classes(1 << 9);
    /// `t`: stream commands.
    pub const STREAM: Classes = Classes(1 << 10);
    /// `m`: a read that missed its key (not part of `A`).
    pub const KEY_MISS: Classes = Classes(1 << 11);
    /// `d`: module events.
    pub const MODULE: Classes = Classes(1 << 13);
    /// `n`: a key created (not part of `A`).
    pub const NEW: Classes = Classes(1 << 14);
    /// `A`: every class but `m` and `n`.
    pub const ALL: Classes = Classes(
        Self::GENERIC.0
            | Self::STRING.0
            | Self::LIST.0
            | Self::SET.0
            | Self::HASH.0
            | Self::ZSET.0
            | Self::EXPIRED.0
            | Self::EVICTED.0
            | Self::STREAM.0
            | Self::MODULE.0,
    );

    /// Redis's error for a letter it does not know.
    pub const INVALID: &'static str = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";

    /// The classes a setting names (`""` for none), as Redis reads it.
    ///
    /// # Errors
    /// [`Classes::INVALID`] for any other letter.
    pub fn parse(text: &str) -> Result<Classes, &'static str> {
        let mut bits = 0;
        for letter in text.bytes() {
            bits |= match letter {
                b'A' => Self::ALL.0,
                b'g' => Self::GENERIC.0,
                b'$' => Self::STRING.0,
                b'l' => Self::LIST.0,
                b's' => Self::SET.0,
                b'h' => Self::HASH.0,
                b'z' => Self::ZSET.0,
                b'x' => Self::EXPIRED.0,
                b'e' => Self::EVICTED.0,
                b'K' => Self::KEYSPACE.0,
                b'E' => Self::KEYEVENT.0,
                b't' => Self::STREAM.0,
                b'm' => Self::KEY_MISS.0,
                b'd' => Self::MODULE.0,
                b'n' => Self::NEW.0,
                _ => return Err(Self::INVALID),
            };
        }
        Ok(Classes(bits))
    }

    /// Both sets.
    #[inline]
    pub const fn with(self, other: Classes) -> Classes {
        Classes(self.0 | other.0)
    }

    /// True if every class of `other` is set.
    #[inline]
    pub const fn has(self, other: Classes) -> bool {
        self.0 & other.0 == other.0
    }

    /// True if any class of `other` is set.
    #[inline]
    pub const fn any(self, other: Classes) -> bool {
        self.0 & other.0 != 0
    }
}

impl fmt::Display for Classes {
    /// Redis's canonical form: `A` for all of `A`'s classes (then `n` is
    /// not shown even when set, as Redis prints it), else each class in
    /// Redis's order; then `K`, `E` and `m`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.has(Self::ALL) {
            f.write_str("A")?;
        } else {
            let letters = [
                (Self::GENERIC, 'g'),
                (Self::STRING, '$'),
                (Self::LIST, 'l'),
                (Self::SET, 's'),
                (Self::HASH, 'h'),
                (Self::ZSET, 'z'),
                (Self::EXPIRED, 'x'),
                (Self::EVICTED, 'e'),
                (Self::STREAM, 't'),
                (Self::MODULE, 'd'),
                (Self::NEW, 'n'),
            ];
            for (class, letter) in letters {
                if self.has(class) {
                    write!(f, "{letter}")?;
                }
            }
        }
        for (class, letter) in [
            (Self::KEYSPACE, 'K'),
            (Self::KEYEVENT, 'E'),
            (Self::KEY_MISS, 'm'),
        ] {
            if self.has(class) {
                write!(f, "{letter}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What redis-server 7.0.15 answers to CONFIG GET after each CONFIG SET.
    #[test]
    fn settings_print_back_as_redis_prints_them() {
        for (set, shown) in [
            ("", ""),
            ("KEA", "AKE"),
            ("Ex", "xE"),
            ("A", "A"),
            ("An", "A"),
            ("KEAmn", "AKEm"),
            ("gK", "gK"),
            ("Kz$x", "$zxK"),
            ("AK", "AK"),
            ("KEg$lshzxetd", "AKE"),
            ("nE", "nE"),
        ] {
            assert_eq!(Classes::parse(set).unwrap().to_string(), shown, "{set}");
        }
        assert_eq!(Classes::parse("Q"), Err(Classes::INVALID));
        assert_eq!(Classes::parse("KEa"), Err(Classes::INVALID));
        assert!(Classes::parse("An").unwrap().has(Classes::NEW));
    }
}
