//! Walks and random picks over a hashbrown `HashTable` by bucket position,
//! for the collections whose large encoding is one (a set's members, a
//! hash's pairs): SSCAN's and HSCAN's cursors, SPOP's, SRANDMEMBER's and
//! HRANDFIELD's picks.

use hashbrown::HashTable;

/// Bits of a cursor that hold the bucket position; the bits above hold
/// the table's layout counter.
const CURSOR_LAYOUT_SHIFT: u32 = 48;

/// Visits entries from `cursor` on, bucket by bucket, until `count` were
/// visited or ten times as many buckets looked at (as Redis's SSCAN and
/// HSCAN). Returns the next cursor, 0 when the walk is done.
///
/// `layout` is the table's layout counter, which its owner changes
/// whenever entries may have moved to other buckets (a rehash on insert,
/// a shrink): a cursor from another layout starts the walk again from the
/// first bucket, so every entry present throughout is visited (some maybe
/// twice, which SCAN allows).
pub fn scan<'a, T>(
    table: &'a HashTable<T>,
    layout: u16,
    cursor: u64,
    count: usize,
    mut visit: impl FnMut(&'a T),
) -> u64 {
    let position_mask = (1u64 << CURSOR_LAYOUT_SHIFT) - 1;
    let mut bucket = if cursor != 0 && (cursor >> CURSOR_LAYOUT_SHIFT) as u16 == layout {
        usize::try_from(cursor & position_mask).unwrap_or(usize::MAX)
    } else {
        0
    };
    let buckets = table.num_buckets();
    let (mut visited, mut looked) = (0, 0);
    while bucket < buckets && visited < count && looked < count.saturating_mul(10) {
        if let Some(entry) = table.get_bucket(bucket) {
            visit(entry);
            visited += 1;
        }
        bucket += 1;
        looked += 1;
    }
    if bucket >= buckets {
        return 0;
    }
    (u64::from(layout) << CURSOR_LAYOUT_SHIFT) | bucket as u64
}

/// Call before `table.entry` or `table.insert_unique`: changes `layout`
/// when that call will rehash the table. hashbrown makes room for one
/// more entry before it looks for the key, so a full table rehashes even
/// when the key is already there (SADD of a member the set holds).
pub fn before_insert<T>(table: &HashTable<T>, layout: &mut u16) {
    if table.len() == table.capacity() {
        *layout = layout.wrapping_add(1);
    }
}

/// After a removal: a table of more than 64 buckets left under an eighth
/// full shrinks to its entries (so random picks stay a few probes away),
/// changing `layout`.
pub fn shrink_sparse<T>(table: &mut HashTable<T>, layout: &mut u16, hasher: impl Fn(&T) -> u64) {
    let buckets = table.num_buckets();
    if buckets > 64 && table.len() * 8 < buckets {
        *layout = layout.wrapping_add(1);
        table.shrink_to(table.len(), hasher);
    }
}

/// An entry picked uniformly at random (None when empty): random buckets
/// until one is occupied, a few tries at most while the table is at least
/// an eighth full, which its owner keeps it by shrinking.
pub fn random<'a, T>(table: &'a HashTable<T>, rng: &mut fastrand::Rng) -> Option<&'a T> {
    if table.is_empty() {
        return None;
    }
    let buckets = table.num_buckets();
    loop {
        if let Some(entry) = table.get_bucket(rng.usize(..buckets)) {
            return Some(entry);
        }
    }
}
