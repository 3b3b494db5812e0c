//! Shrinking a failing input to a small one that still fails (chunk
//! removal, halving the chunk size down to single items), within a budget
//! of attempts.

/// Removes chunks of `items` as long as `fails` still holds for what is
/// left; calls `fails` at most `budget` times.
pub fn shrink<T: Clone>(
    items: Vec<T>,
    budget: usize,
    mut fails: impl FnMut(&[T]) -> bool,
) -> Vec<T> {
    let mut current = items;
    let mut calls = 0;
    let mut chunk = current.len().div_ceil(2).max(1);
    loop {
        let mut removed = false;
        let mut start = 0;
        while start < current.len() && calls < budget {
            let end = (start + chunk).min(current.len());
            let candidate: Vec<T> = current[..start]
                .iter()
                .chain(&current[end..])
                .cloned()
                .collect();
            calls += 1;
            if !candidate.is_empty() && fails(&candidate) {
                current = candidate;
                removed = true;
            } else {
                start = end;
            }
        }
        if calls >= budget || (chunk == 1 && !removed) {
            return current;
        }
        chunk = (chunk / 2).max(1);
    }
}
