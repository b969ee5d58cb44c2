//! The GenKSC fixed-point model file.
//!
//! A model file contains everything a device needs to assign an image to a cluster. That is
//! the int8 encoder layers, the projection onto the cluster scores, the cluster codes and
//! names, one prototype image per cluster, and the threshold below which an assignment is
//! reported as uncertain. [`Model::parse`] validates a file and reads it in place from any `&[u8]`, without
//! allocating. With the `std` feature (on by default), [`ModelSpec::to_bytes`] writes one.
//!
//! # Arithmetic
//!
//! A quantized value `q` stands for the real number `scale * (q - zero_point)`.
//!
//! - The input is `C x H x W` bytes `p` (pixels), mapped to int8 as `q = p - 128`. The zero point
//!   of the input is therefore always -128, and the stored input scale gives the meaning of a
//!   pixel (1/255 maps pixels to `[0, 1]`).
//! - Weights are int8, symmetric (zero point 0), with one scale per output channel. Writers use
//!   -127..=127; readers also accept -128.
//! - Activations are int8 with one scale and one zero point per tensor.
//! - A layer's int32 bias has the scale `input_scale * weight_scale[c]` and already contains the
//!   input zero point, so the accumulator sums the raw int8 inputs. Convolutions pad with the
//!   input zero point, which stands for 0.
//! - Requantization maps an accumulator to the output with a single rounding step. A channel
//!   carries two [`Requantization`]s: `positive` for `acc >= 0` and `negative` for `acc < 0`.
//!   Without an activation both are the same. With a LeakyReLU of slope `alpha`, `negative`
//!   encodes `alpha` times the multiplier of `positive`, so the activation costs no extra
//!   rounding. See [`Requantization`] for the exact integer formula.
//! - The projection onto the scores is a final dense layer over the feature vector without
//!   requantization, and its bias folds in both the feature zero point and the centering, so
//!   `e = U^T (phi(x) - mean)` needs no separate mean.
//!
//! With `x` the int8 inputs of a layer, `w` its int8 weights and `b` its real bias:
//!
//! ```text
//! layer bias        bias[c] = round(b[c] / (input_scale * weight_scale[c]))
//!                             - input_zero_point * sum_i w[c, i]
//! accumulator       acc[c]  = bias[c] + sum_i w[c, i] * x[i]                       (i32)
//! real value        acc[c] * input_scale * weight_scale[c]    (the pre-activation)
//! projection bias   bias[r] = round(-(U^T mean)[r] / score_scale[r])
//!                             - feature_zero_point * sum_i w[r, i]
//! score             e[r]    = f32(bias[r] + sum_i w[r, i] * x[i]) * score_scale[r]
//! ```
//!
//! The limits below keep every accumulator inside `i32`: `|w * x| <= 2^14`, at most
//! [`MAX_FAN_IN`] `= 2^15` products per output and `|bias| <=` [`MAX_ABS_BIAS`] `= 2^30` give
//! `|acc| < 2^29 + 2^30 < 2^31`.
//!
//! # Byte layout (version 1)
//!
//! All numbers are little-endian. Every section starts at a multiple of 4 bytes from the start of
//! the file and ends with zero bytes up to the next multiple of 4, so a copy of the file at a
//! 4-byte aligned address allows aligned 32-bit loads. The reader itself decodes every number
//! with `from_le_bytes` and works from any start address.
//!
//! ```text
//! file header, 16 bytes
//!   0  [u8; 4]  magic "GKSC"
//!   4  u16      format version, 1
//!   6  u16      reserved, 0
//!   8  u32      payload length in bytes, a multiple of 4; the file ends with the payload
//!  12  u32      CRC-32 (IEEE 802.3, as in zlib) of the payload
//!
//! payload
//!   model header, 24 bytes
//!     0  u16      input channels C
//!     2  u16      input height H
//!     4  u16      input width W
//!     6  u8       layer count L
//!     7  u8       cluster count k
//!     8  u16      latent size s, the number of projection rows, k - 1 <= s
//!    10  u16      reserved, 0
//!    12  f32      input scale (the zero point is -128)
//!    16  f32      uncertain threshold on the top membership, in [0, 1]
//!    20  [u8; 4]  reserved, 0
//!
//!   L layers, each:
//!     layer header, 28 bytes
//!       0  u8       kind: 1 = 2-D convolution, 2 = dense
//!       1  u8       activation: 0 = none, 1 = LeakyReLU
//!       2  u16      reserved, 0
//!       4  u16      input channels (dense: input features)
//!       6  u16      output channels (dense: output features)
//!       8  [u8; 2]  kernel height, width (dense: 1, 1)
//!      10  [u8; 2]  stride vertical, horizontal (dense: 1, 1)
//!      12  [u8; 2]  zero padding vertical, horizontal (dense: 0, 0)
//!      14  u16      reserved, 0
//!      16  f32      LeakyReLU slope alpha (0 without activation)
//!      20  f32      output scale
//!      24  i8       output zero point
//!      25  [u8; 3]  reserved, 0
//!     output channels x 20-byte channel records
//!       0  i32      bias, input zero point folded in
//!       4  f32      weight scale
//!       8  i32      positive multiplier (Q31)
//!      12  i32      negative multiplier (Q31)
//!      16  i8       positive shift
//!      17  i8       negative shift
//!      18  u16      reserved, 0
//!     weights: output channels x fan-in int8, padded
//!       conv: [out][in][kernel_h][kernel_w]; dense: [out][in]
//!
//!   projection
//!     s x 8-byte row records
//!       0  i32      bias, centering and feature zero point folded in
//!       4  f32      score scale
//!     weights: s x feature size int8, padded
//!
//!   cluster codes: k x (k - 1) f32, row-major
//!   cluster names: k x (u8 byte length, UTF-8 bytes), padded after the last name
//!   prototypes: k x (C x H x W) u8 pixels, padded
//! ```
//!
//! A convolution reads and writes `[channels][height][width]` tensors and computes its output
//! size as `(in + 2 * padding - kernel) / stride + 1`. A dense layer reads the whole previous
//! tensor in that order (a flatten needs no record) and writes `[features][1][1]`. The feature
//! vector is the output of the last layer, or the input when there are no layers.
//!
//! # Validation
//!
//! [`Model::parse`] checks the magic, the version (only [`VERSION`] is accepted, older and newer
//! ones are rejected), the length and the CRC before it reads the payload. It then checks every
//! count against the limits, computes every size and offset with checked arithmetic, and checks
//! every field: shapes that chain from layer to layer, multipliers and shifts in range, finite
//! positive scales, zero reserved and padding bytes, UTF-8 names and no trailing bytes. It never
//! panics, whatever the input.

#![no_std]
#![deny(missing_docs, unsafe_code)]

#[cfg(feature = "std")]
extern crate std;

mod crc;
mod error;
mod read;
mod types;
#[cfg(feature = "std")]
mod write;

pub use crc::crc32;
pub use error::FormatError;
pub use read::{
    Channels, ClusterCodes, F32s, Layer, Layers, Model, Names, Projection, ProjectionRows,
};
pub use types::{Activation, ChannelParams, LayerKind, ProjectionRow, Requantization, TensorShape};
#[cfg(feature = "std")]
pub use write::{LayerSpec, ModelSpec, ProjectionSpec};

/// First four bytes of every model file.
pub const MAGIC: [u8; 4] = *b"GKSC";

/// The format version this crate reads and writes.
pub const VERSION: u16 = 1;

/// Size of the file header in bytes.
pub const HEADER_LEN: usize = 16;

/// Alignment of every section, in bytes, relative to the start of the file.
pub const ALIGNMENT: usize = 4;

/// Maximum number of layers.
pub const MAX_LAYERS: usize = 16;

/// Maximum number of clusters `k`. Decoders can keep per-cluster values in fixed-size arrays.
pub const MAX_CLUSTERS: usize = 32;

/// Maximum latent size `s`, the number of projection rows.
pub const MAX_LATENT: usize = 256;

/// Maximum number of input or output channels of a convolution, and of input channels.
pub const MAX_CHANNELS: usize = 1024;

/// Maximum number of output features of a dense layer.
pub const MAX_FEATURES: usize = 4096;

/// Maximum height or width of the input and of every convolution output.
pub const MAX_SPATIAL: usize = 1024;

/// Maximum kernel height or width, and maximum stride.
pub const MAX_KERNEL: usize = 16;

/// Maximum number of weights per output (a convolution's `in * kernel_h * kernel_w`, a dense
/// layer's inputs, the feature size of the projection). It bounds the int32 accumulator.
pub const MAX_FAN_IN: usize = 1 << 15;

/// Maximum number of elements of the input and of every layer output.
pub const MAX_TENSOR_LEN: usize = 1 << 20;

/// Maximum absolute value of a layer or projection bias. It bounds the int32 accumulator.
pub const MAX_ABS_BIAS: i32 = 1 << 30;

/// Smallest and largest shift of a [`Requantization`].
pub const SHIFT_RANGE: core::ops::RangeInclusive<i8> = -30..=31;

const MODEL_HEADER_LEN: usize = 24;
const LAYER_HEADER_LEN: usize = 28;
const CHANNEL_RECORD_LEN: usize = 20;
const PROJECTION_ROW_LEN: usize = 8;

const _: () = {
    assert!(HEADER_LEN.is_multiple_of(ALIGNMENT));
    assert!(MODEL_HEADER_LEN.is_multiple_of(ALIGNMENT));
    assert!(LAYER_HEADER_LEN.is_multiple_of(ALIGNMENT));
    assert!(CHANNEL_RECORD_LEN.is_multiple_of(ALIGNMENT));
    assert!(PROJECTION_ROW_LEN.is_multiple_of(ALIGNMENT));
    assert!(MAX_LAYERS <= u8::MAX as usize);
    assert!(MAX_CLUSTERS <= u8::MAX as usize);
    assert!(MAX_LATENT <= u16::MAX as usize);
    assert!(MAX_CHANNELS <= u16::MAX as usize);
    assert!(MAX_FEATURES <= u16::MAX as usize);
    assert!(MAX_SPATIAL <= u16::MAX as usize);
    assert!(MAX_KERNEL <= u8::MAX as usize);
    // Accumulator bound: 2^14 per product, 2^15 products, plus the bias, stays below 2^31.
    assert!((128 * 128 * MAX_FAN_IN) as i64 + MAX_ABS_BIAS as i64 <= i32::MAX as i64);
    // Every size computed from the limits fits a 32-bit `usize`.
    assert!(MAX_TENSOR_LEN as u64 * MAX_CLUSTERS as u64 <= u32::MAX as u64);
    assert!(MAX_FEATURES as u64 * MAX_FAN_IN as u64 <= u32::MAX as u64);
};
