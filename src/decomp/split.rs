//! Balanced 1D splits.

use std::ops::Range;

/// The cells of part `k` when `n` cells are split into `parts` balanced, contiguous parts.
///
/// The first `n % parts` parts get `n / parts + 1` cells, the others `n / parts`; parts tile
/// `0..n` in order. `parts` must be at least 1 and `k < parts`.
///
/// ```
/// assert_eq!(halo::decomp::split(10, 3, 0), 0..4);
/// assert_eq!(halo::decomp::split(10, 3, 1), 4..7);
/// assert_eq!(halo::decomp::split(10, 3, 2), 7..10);
/// ```
pub fn split(n: usize, parts: usize, k: usize) -> Range<usize> {
    assert!(parts > 0 && k < parts, "split: part {k} of {parts}");
    let base = n / parts;
    let extra = n % parts;
    let start = k * base + k.min(extra);
    let len = base + usize::from(k < extra);
    start..start + len
}

/// The part of [`split`]`(n, parts, ·)` that holds cell `i`, found without trying each part.
/// `parts` must be at least 1 and `i < n`.
///
/// ```
/// assert_eq!(halo::decomp::part_of(10, 3, 3), 0);
/// assert_eq!(halo::decomp::part_of(10, 3, 4), 1);
/// assert_eq!(halo::decomp::part_of(10, 3, 9), 2);
/// ```
pub fn part_of(n: usize, parts: usize, i: usize) -> usize {
    assert!(
        parts > 0 && i < n,
        "part_of: cell {i} of {n} in {parts} parts"
    );
    let (base, extra) = (n / parts, n % parts);
    if extra == 0 {
        return i / base;
    }
    // The first `extra` parts hold `base + 1` cells each, `big` cells in all (at most `n`).
    let big = extra * (base + 1);
    if i < big {
        i / (base + 1)
    } else {
        // Cell `i` lies beyond the long parts, so the short ones hold at least one: `base >= 1`.
        extra + (i - big) / base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sizes of all `parts` parts, in order.
    fn counts(n: usize, parts: usize) -> Vec<usize> {
        (0..parts).map(|k| split(n, parts, k).len()).collect()
    }

    #[test]
    fn parts_tile_the_range_and_differ_by_at_most_one() {
        for n in 0..40 {
            for parts in 1..12 {
                let mut next = 0;
                let counts = counts(n, parts);
                for k in 0..parts {
                    let r = split(n, parts, k);
                    assert_eq!(r.start, next, "n={n} parts={parts} k={k}");
                    next = r.end;
                }
                assert_eq!(next, n);
                let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
                assert!(hi - lo <= 1, "n={n} parts={parts}: {counts:?}");
                assert_eq!(counts.iter().sum::<usize>(), n);
            }
        }
    }

    #[test]
    fn every_cell_is_found_in_the_part_that_holds_it() {
        for n in 1..60 {
            for parts in 1..=n + 2 {
                for k in 0..parts {
                    for i in split(n, parts, k) {
                        assert_eq!(part_of(n, parts, i), k, "n={n} parts={parts} i={i}");
                    }
                }
            }
        }
        assert_eq!(part_of(usize::MAX, 3, usize::MAX - 1), 2);
        assert_eq!(part_of(usize::MAX, 1, usize::MAX - 1), 0);
        assert_eq!(part_of(usize::MAX, 2, usize::MAX - 1), 1);
    }

    #[test]
    fn larger_parts_come_first() {
        assert_eq!(counts(7, 3), vec![3, 2, 2]);
        assert_eq!(counts(8, 3), vec![3, 3, 2]);
        assert_eq!(counts(2, 4), vec![1, 1, 0, 0]);
    }
}
