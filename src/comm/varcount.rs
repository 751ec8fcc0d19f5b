//! The result of a variable-count gather.

use std::ops::Range;

/// Chunks of different lengths, one per rank, stored back to back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarChunks<T> {
    data: Vec<T>,
    offsets: Vec<usize>,
}

impl<T> VarChunks<T> {
    /// Wraps `data` cut into chunks of `lens` elements, in order.
    pub(crate) fn new(data: Vec<T>, lens: &[usize]) -> Self {
        let mut offsets = Vec::with_capacity(lens.len() + 1);
        offsets.push(0);
        for &n in lens {
            offsets.push(offsets.last().unwrap() + n);
        }
        debug_assert_eq!(*offsets.last().unwrap(), data.len());
        VarChunks { data, offsets }
    }

    /// The number of chunks (ranks).
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether there are no chunks.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where rank `i`'s chunk lies in [`Self::data`].
    pub fn range(&self, i: usize) -> Range<usize> {
        self.offsets[i]..self.offsets[i + 1]
    }

    /// Rank `i`'s chunk.
    pub fn chunk(&self, i: usize) -> &[T] {
        &self.data[self.range(i)]
    }

    /// The chunks' lengths, in rank order.
    pub fn lens(&self) -> Vec<usize> {
        self.offsets.windows(2).map(|w| w[1] - w[0]).collect()
    }

    /// The chunks in rank order.
    pub fn iter(&self) -> impl Iterator<Item = &[T]> + '_ {
        (0..self.len()).map(|i| self.chunk(i))
    }

    /// All elements back to back.
    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// All elements back to back, owned.
    pub fn into_data(self) -> Vec<T> {
        self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_follow_lengths() {
        let v = VarChunks::new(vec![1, 2, 3, 4, 5, 6], &[0, 1, 2, 3]);
        assert_eq!(v.len(), 4);
        assert_eq!(v.chunk(0), &[] as &[i32]);
        assert_eq!(v.chunk(1), &[1]);
        assert_eq!(v.chunk(2), &[2, 3]);
        assert_eq!(v.chunk(3), &[4, 5, 6]);
        assert_eq!(v.lens(), vec![0, 1, 2, 3]);
        assert_eq!(v.iter().map(|c| c.len()).sum::<usize>(), 6);
    }
}
