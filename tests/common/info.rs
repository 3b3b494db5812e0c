//! Reading INFO: one field as text or as a number, from a connection or
//! from INFO text already fetched.

use redis::Connection;

/// The value of `field` in INFO text, if present.
pub fn field(info: &str, field: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

/// The value of `field` in INFO text as a number, if present and numeric.
pub fn field_u64(info: &str, name: &str) -> Option<u64> {
    field(info, name).and_then(|v| v.parse().ok())
}

/// All of INFO (every section).
pub fn info_all(conn: &mut Connection) -> String {
    redis::cmd("INFO")
        .arg("everything")
        .query(conn)
        .expect("INFO")
}

/// One INFO section.
pub fn info_section(conn: &mut Connection, section: &str) -> String {
    redis::cmd("INFO")
        .arg(section)
        .query(conn)
        .unwrap_or_else(|e| panic!("INFO {section}: {e}"))
}

/// A field of INFO as text; panics when INFO has no such field.
pub fn info_field(conn: &mut Connection, name: &str) -> String {
    field(&info_all(conn), name).unwrap_or_else(|| panic!("INFO has no {name}"))
}

/// A numeric field of INFO; panics when it is missing or not a number.
pub fn info_u64(conn: &mut Connection, name: &str) -> u64 {
    let text = info_field(conn, name);
    text.parse()
        .unwrap_or_else(|_| panic!("INFO {name} is not a number: {text}"))
}

/// Waits (polling, up to [`super::DEADLINE`]) until INFO shows `n` blocked
/// clients; panics, naming the caller, when it does not.
#[track_caller]
pub fn wait_blocked(conn: &mut Connection, n: u64) {
    let mut seen = 0;
    let reached = super::eventually(super::DEADLINE, || {
        seen = info_u64(conn, "blocked_clients");
        seen == n
    });
    assert!(
        reached,
        "blocked_clients stayed {seen}, expected {n} (at {})",
        std::panic::Location::caller()
    );
}
