//! Plain values shared by the reader and the writer.

/// Shape of an activation tensor in `[channels][height][width]` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorShape {
    /// Number of channels.
    pub channels: usize,
    /// Number of rows.
    pub height: usize,
    /// Number of columns.
    pub width: usize,
}

impl TensorShape {
    /// Returns the number of elements, or `None` on overflow.
    pub fn checked_len(&self) -> Option<usize> {
        self.channels
            .checked_mul(self.height)?
            .checked_mul(self.width)
    }

    /// Returns the number of elements, saturating at `usize::MAX` on overflow. Shapes read from
    /// a parsed model never overflow.
    pub fn len(&self) -> usize {
        self.checked_len().unwrap_or(usize::MAX)
    }

    /// Returns whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The operation of a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKind {
    /// 2-D convolution with zero padding. Arrays are `[vertical, horizontal]`.
    Conv2d {
        /// Kernel height and width.
        kernel: [u8; 2],
        /// Stride.
        stride: [u8; 2],
        /// Zero padding added on both sides.
        padding: [u8; 2],
    },
    /// Fully connected layer over the whole previous tensor, flattened in channel-major order.
    Dense,
}

#[cfg(feature = "std")]
impl LayerKind {
    pub(crate) fn code(&self) -> u8 {
        match self {
            LayerKind::Conv2d { .. } => 1,
            LayerKind::Dense => 2,
        }
    }
}

/// The activation fused into a layer's requantization.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// Identity.
    None,
    /// `max(x, 0) + alpha * min(x, 0)`.
    LeakyRelu {
        /// Slope for negative inputs, in `[0, 1]`.
        alpha: f32,
    },
}

#[cfg(feature = "std")]
impl Activation {
    pub(crate) fn code(&self) -> u8 {
        match self {
            Activation::None => 0,
            Activation::LeakyRelu { .. } => 1,
        }
    }

    pub(crate) fn alpha(&self) -> f32 {
        match self {
            Activation::None => 0.0,
            Activation::LeakyRelu { alpha } => *alpha,
        }
    }
}

/// A real multiplier `M = multiplier * 2^-(31 + shift)`.
///
/// `multiplier` is either 0 (then `M = 0`) or a Q31 value in `[2^30, 2^31)`, that is a mantissa
/// in `[0.5, 1)`, and `shift` lies in [`SHIFT_RANGE`](crate::SHIFT_RANGE). With `n = 31 + shift`
/// (between 1 and 62), an accumulator `acc` maps to
///
/// ```text
/// q = clamp(((acc * multiplier + 2^(n - 1)) >> n) + zero_point, -128, 127)
/// ```
///
/// computed in 64 bits with an arithmetic shift: one rounding step, round half up (towards
/// positive infinity). The sum cannot overflow because `|acc| < 2^31` and `multiplier < 2^31`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requantization {
    /// Q31 mantissa, 0 or in `[2^30, 2^31)`.
    pub multiplier: i32,
    /// Extra right shift after the Q31 product; negative values shift left.
    pub shift: i8,
}

impl Requantization {
    /// The multiplier that stands for 0.
    pub const ZERO: Requantization = Requantization {
        multiplier: 0,
        shift: 0,
    };

    /// Encodes a real multiplier `m >= 0`, rounding the mantissa to 31 bits (half up).
    ///
    /// Returns [`Requantization::ZERO`] when `m` is below `2^-32`, the smallest value the shift
    /// range reaches, because such a multiplier moves no int32 accumulator by half a step.
    /// Returns `None` when `m` is negative, not finite or at least `2^30`.
    pub fn from_real(m: f64) -> Option<Requantization> {
        if !m.is_finite() || m < 0.0 {
            return None;
        }
        if m < pow2(-32) {
            return Some(Requantization::ZERO);
        }

        // Scale m into [0.5, 1); both loops are exact for binary floating point.
        let mut mantissa = m;
        let mut shift: i32 = 0;
        while mantissa >= 1.0 {
            mantissa /= 2.0;
            shift -= 1;
        }
        while mantissa < 0.5 {
            mantissa *= 2.0;
            shift += 1;
        }

        let mut multiplier = (mantissa * pow2(31) + 0.5) as i64;
        if multiplier == 1 << 31 {
            multiplier = 1 << 30;
            shift -= 1;
        }
        let shift = i8::try_from(shift).ok()?;
        if !crate::SHIFT_RANGE.contains(&shift) {
            return None;
        }
        let multiplier = i32::try_from(multiplier).ok()?;
        Some(Requantization { multiplier, shift })
    }

    /// Returns the real multiplier this value encodes.
    pub fn to_real(&self) -> f64 {
        f64::from(self.multiplier) * pow2(-31 - i32::from(self.shift))
    }

    pub(crate) fn is_valid(&self) -> bool {
        let multiplier_ok = self.multiplier == 0 || self.multiplier >= 1 << 30;
        multiplier_ok && crate::SHIFT_RANGE.contains(&self.shift)
    }
}

/// `2^exponent` for exponents of normal `f64` values (-1022..=1023), built from its bits because
/// `core` has no `powi`.
fn pow2(exponent: i32) -> f64 {
    let biased = (exponent.clamp(-1022, 1023) + 1023) as u64;
    f64::from_bits(biased << 52)
}

/// Per-output-channel parameters of a layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChannelParams {
    /// Int32 bias with the input zero point folded in.
    pub bias: i32,
    /// Scale of the channel's int8 weights.
    pub weight_scale: f32,
    /// Requantization for accumulators `>= 0`.
    pub positive: Requantization,
    /// Requantization for accumulators `< 0`.
    pub negative: Requantization,
}

/// Per-row parameters of the projection onto the scores.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProjectionRow {
    /// Int32 bias with the centering and the feature zero point folded in.
    pub bias: i32,
    /// Real value of one accumulator step: `feature_scale * weight_scale[r]`.
    pub score_scale: f32,
}
