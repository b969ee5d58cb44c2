//! Soft kernel spectral clustering on the score vector: cosine distances to the cluster codes,
//! memberships and the hard assignment (Langone, Mall and Suykens, "Soft kernel spectral
//! clustering", IJCNN 2013).
//!
//! Everything here is plain `f32` arithmetic in a fixed order plus `libm::sqrtf`, which is
//! correctly rounded, so the host and the firmware compute bit-identical results.

use core::fmt;

use model_format::MAX_CLUSTERS;

/// Cosine distance `1 - e.s / (|e| |s|)` between the scores `e` and a cluster code `s`, over
/// their common length, clamped at 0 against rounding. Returns 1 when either vector is zero.
pub fn cosine_distance(scores: &[f32], code: impl IntoIterator<Item = f32>) -> f32 {
    let mut dot = 0.0f32;
    let mut scores_norm2 = 0.0f32;
    let mut code_norm2 = 0.0f32;
    for (&score, code) in scores.iter().zip(code) {
        dot += score * code;
        scores_norm2 += score * score;
        code_norm2 += code * code;
    }

    let norms = libm::sqrtf(scores_norm2) * libm::sqrtf(code_norm2);
    let cosine = if norms > 0.0 { dot / norms } else { 0.0 };
    (1.0 - cosine).max(0.0)
}

/// Writes the membership of each cluster into `memberships`:
/// `cm_c = prod_{j != c} d_j / sum_l prod_{j != l} d_j`, which is `(1 / d_c) / sum_l (1 / d_l)`
/// when no distance is 0, and stays defined when one is.
///
/// Uses the common length of both slices. When the normalising sum is 0 or not finite (two
/// zero distances, or a NaN), the membership is 1 for the first smallest distance and 0
/// elsewhere.
pub fn memberships(distances: &[f32], memberships: &mut [f32]) {
    let len = distances.len().min(memberships.len());
    let (distances, memberships) = (&distances[..len], &mut memberships[..len]);

    for (c, membership) in memberships.iter_mut().enumerate() {
        let others = distances.iter().enumerate().filter(|&(j, _)| j != c);
        *membership = others.map(|(_, &distance)| distance).product();
    }

    let total: f32 = memberships.iter().sum();
    if total > 0.0 && total.is_finite() {
        for membership in memberships.iter_mut() {
            *membership /= total;
        }
    } else {
        let nearest = argmin(distances);
        for (c, membership) in memberships.iter_mut().enumerate() {
            *membership = if c == nearest { 1.0 } else { 0.0 };
        }
    }
}

/// Index of the first smallest value, skipping NaN; 0 when there is none.
fn argmin(values: &[f32]) -> usize {
    let mut best: Option<(usize, f32)> = None;
    for (index, &value) in values.iter().enumerate() {
        if !value.is_nan() && best.is_none_or(|(_, smallest)| value < smallest) {
            best = Some((index, value));
        }
    }
    best.map_or(0, |(index, _)| index)
}

/// The cluster of one image with its memberships.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Assignment {
    /// Hard cluster: the smallest cosine distance, the first one on ties.
    pub cluster: usize,
    /// Number of clusters `k`.
    pub clusters: usize,
    /// Whether the top membership is below the model's uncertain threshold.
    pub uncertain: bool,
    distances: [f32; MAX_CLUSTERS],
    memberships: [f32; MAX_CLUSTERS],
}

impl Assignment {
    /// Builds the assignment from the cosine distances to the `k` cluster codes (at most
    /// [`MAX_CLUSTERS`]; further ones are ignored).
    pub fn from_distances(distances: &[f32], uncertain_threshold: f32) -> Assignment {
        let clusters = distances.len().min(MAX_CLUSTERS);
        let mut assignment = Assignment {
            cluster: argmin(&distances[..clusters]),
            clusters,
            uncertain: false,
            distances: [0.0; MAX_CLUSTERS],
            memberships: [0.0; MAX_CLUSTERS],
        };
        assignment.distances[..clusters].copy_from_slice(&distances[..clusters]);
        memberships(
            &distances[..clusters],
            &mut assignment.memberships[..clusters],
        );
        assignment.uncertain = assignment.strength() < uncertain_threshold;
        assignment
    }

    /// Cosine distance to each cluster code.
    pub fn distances(&self) -> &[f32] {
        &self.distances[..self.clusters]
    }

    /// Membership of each cluster; they sum to 1 up to rounding.
    pub fn memberships(&self) -> &[f32] {
        &self.memberships[..self.clusters]
    }

    /// Membership of the assigned cluster, the largest one.
    pub fn strength(&self) -> f32 {
        self.memberships.get(self.cluster).copied().unwrap_or(0.0)
    }

    /// Returns the report line of image `index`, for example `image 3: cluster 1 strength 0.872`.
    pub fn line(&self, index: usize) -> AssignmentLine<'_> {
        AssignmentLine {
            index,
            assignment: self,
        }
    }
}

/// Formats `image <index>: cluster <c> strength <x.xxx>`, so that the host and the firmware
/// print byte-identical lines. The strength is the top membership with three decimals, as
/// [`write_thousandths`] writes it.
#[derive(Clone, Copy, Debug)]
pub struct AssignmentLine<'a> {
    index: usize,
    assignment: &'a Assignment,
}

impl fmt::Display for AssignmentLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "image {}: cluster {} strength ",
            self.index, self.assignment.cluster
        )?;
        write_thousandths(f, self.assignment.strength())
    }
}

/// Writes `value`, clamped to `[0, 1]` (NaN as 0), with three decimals: the same text as
/// `{:.3}`, which rounds the exact binary value half to even, but with integer arithmetic only.
///
/// `core`'s float formatting costs about 11 KiB of Cortex-M code, a tenth of a 128 KiB flash,
/// and a membership never leaves `[0, 1]`.
pub fn write_thousandths(f: &mut impl fmt::Write, value: f32) -> fmt::Result {
    let text = thousandths_text(value);
    // The bytes are ASCII digits and a point, so the conversion cannot fail.
    f.write_str(core::str::from_utf8(&text).unwrap_or("0.000"))
}

/// Returns the five ASCII bytes that [`write_thousandths`] writes for `value`, such as
/// `b"0.872"`. It does not use `core::fmt`, so a program that formats nothing else does not
/// link `core::fmt`'s integer formatting.
pub fn thousandths_text(value: f32) -> [u8; 5] {
    // The comparison is false for NaN, which therefore becomes 0.
    let value = if value >= 0.0 { value.min(1.0) } else { 0.0 };
    // At most 1000, because the value is at most 1.
    let thousandths = round_thousandths(value);
    let digit = |place: u32| b'0' + (thousandths / place % 10) as u8;
    [digit(1000), b'.', digit(100), digit(10), digit(1)]
}

/// Rounds `1000 * value` to the nearest integer, ties to even, for a finite `value` in
/// `[0, 1]`, exactly: `value = mantissa * 2^-shift`, so `1000 * value` is
/// `mantissa * 1000 >> shift` plus a remainder that decides the rounding.
fn round_thousandths(value: f32) -> u32 {
    let bits = value.to_bits();
    let biased_exponent = (bits >> 23) & 0xff;
    let fraction = u64::from(bits & 0x7f_ffff);
    // Normal numbers have an implicit leading 1; subnormals have exponent field 0 and the
    // exponent of the smallest normal number.
    let (mantissa, shift) = if biased_exponent == 0 {
        (fraction, 149)
    } else {
        (fraction | 1 << 23, 150 - biased_exponent)
    };
    let scaled = mantissa * 1000;
    if shift >= 64 {
        // Below 2^-40, so 1000 * value is far below one half.
        return 0;
    }
    let quotient = scaled >> shift;
    let remainder = scaled & ((1u64 << shift) - 1);
    let half = (1u64 << shift) >> 1;
    let round_up = remainder > half || (remainder == half && half != 0 && quotient % 2 == 1);
    // At most 1000, because `value <= 1`.
    (quotient + u64::from(round_up)) as u32
}
