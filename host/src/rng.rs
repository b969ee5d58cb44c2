//! SplitMix64, a small seeded generator for shuffling whose state fits in a checkpoint.

/// SplitMix64 generator (Steele, Lea and Flood, OOPSLA 2014).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// Restores a generator from [`SplitMix64::state`].
    pub fn from_state(state: u64) -> Self {
        Self { state }
    }

    pub fn state(&self) -> u64 {
        self.state
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform integer in `0..bound` by Lemire's multiply-shift (bias below 2^-32 here).
    pub fn below(&mut self, bound: usize) -> usize {
        ((self.next_u64() as u128 * bound as u128) >> 64) as usize
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_is_a_seeded_permutation() {
        let mut first: Vec<usize> = (0..100).collect();
        let mut second = first.clone();
        SplitMix64::new(3).shuffle(&mut first);
        SplitMix64::new(3).shuffle(&mut second);
        assert_eq!(first, second);
        assert_ne!(first, (0..100).collect::<Vec<_>>());
        let mut sorted = first.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn state_restores_sequence() {
        let mut generator = SplitMix64::new(11);
        generator.next_u64();
        let mut restored = SplitMix64::from_state(generator.state());
        assert_eq!(generator.next_u64(), restored.next_u64());
    }
}
