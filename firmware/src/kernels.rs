//! Integer kernels: requantization, dot products, dense layers, the projection, and the entry
//! points of the layers ([`run_layer`]); the convolution itself is in the `conv` module.
//!
//! Every kernel checks its buffer lengths once on entry and returns
//! [`EngineError::BufferTooSmall`] instead of panicking. Each layer first copies its input into
//! the scratch buffer in the form its inner loops read (padded, or widened to 16-bit lanes, see
//! the `simd` module), so a layer may write its output over its own input.

use model_format::{ChannelParams, Layer, Projection, Requantization};

use crate::EngineError;
use crate::conv::{ConvPlan, StagedConv};
use crate::simd::{dot_rows, widen_row};

/// Requantizes an int32 accumulator to int8 with one rounding step.
///
/// With `n = 31 + shift` (clamped to 1..=62), the result is
/// `clamp(((acc * multiplier + 2^(n - 1)) >> n) + zero_point, -128, 127)`, with the exact 64-bit
/// product and an arithmetic shift: round half up, towards positive infinity, so -2.5 becomes
/// -2 and 2.5 becomes 3. Nothing overflows for any `acc` and `multiplier`, because both are
/// below 2^31 in magnitude.
#[inline]
pub fn requantize(acc: i32, requantization: Requantization, zero_point: i8) -> i8 {
    let shift = (31 + i32::from(requantization.shift)).clamp(1, 62) as u32;
    let product = i64::from(acc) * i64::from(requantization.multiplier);
    // floor((p + 2^(n - 1)) / 2^n) equals floor((floor(p / 2^(n - 1)) + 1) / 2), which needs no
    // 64-bit constant. Saturating the quotient to i32 changes no result, because any value
    // beyond the i32 range saturates the int8 output anyway.
    let halves = (product >> (shift - 1)).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
    let rounded = (halves >> 1) + (halves & 1);
    (rounded + i32::from(zero_point)).clamp(-128, 127) as i8
}

/// Applies a channel's requantization and its fused activation: the `negative` multiplier for
/// `acc < 0` (the LeakyReLU slope is folded into it), the `positive` one otherwise.
#[inline]
pub fn activate(acc: i32, channel: &ChannelParams, zero_point: i8) -> i8 {
    let requantization = if acc < 0 {
        channel.negative
    } else {
        channel.positive
    };
    requantize(acc, requantization, zero_point)
}

/// Computes `sum_i (weights[i] as i8) * inputs[i]` over the common length of both slices.
///
/// The sum wraps on overflow. Model files keep it in range: at most `MAX_FAN_IN = 2^15`
/// products of magnitude at most `2^14`.
#[inline]
pub fn dot(weights: &[u8], inputs: &[i8]) -> i32 {
    let len = weights.len().min(inputs.len());
    let (weight_quads, weight_tail) = weights[..len].as_chunks::<4>();
    let (input_quads, input_tail) = inputs[..len].as_chunks::<4>();

    let mut acc = 0i32;
    for (w, x) in weight_quads.iter().zip(input_quads) {
        acc = dot4(acc, w, x);
    }
    for (&w, &x) in weight_tail.iter().zip(input_tail) {
        acc = acc.wrapping_add(i32::from(w as i8) * i32::from(x));
    }
    acc
}

/// Returns `acc + sum_i (weights[i] as i8) * inputs[i]` over four products, wrapping.
#[cfg(not(arm_dsp))]
#[inline(always)]
fn dot4(acc: i32, weights: &[u8; 4], inputs: &[i8; 4]) -> i32 {
    let [w0, w1, w2, w3] = weights.map(|w| i32::from(w as i8));
    let [x0, x1, x2, x3] = inputs.map(i32::from);
    let pair_low = w0 * x0 + w1 * x1;
    let pair_high = w2 * x2 + w3 * x3;
    acc.wrapping_add(pair_low + pair_high)
}

/// Returns `acc + sum_i (weights[i] as i8) * inputs[i]` over four products, wrapping, with the
/// DSP instructions of Armv7E-M: `SXTB16` sign-extends bytes 0 and 2 (or, rotated by 8, bytes
/// 1 and 3) into two 16-bit halves, and `SMLAD` adds both halfword products to `acc`.
///
/// The result equals the portable version bit for bit: every product of two int8 values is
/// exact in 32 bits, and `SMLAD` wraps its sum modulo 2^32 like `wrapping_add`.
#[cfg(arm_dsp)]
#[inline(always)]
#[allow(unsafe_code)]
fn dot4(acc: i32, weights: &[u8; 4], inputs: &[i8; 4]) -> i32 {
    let weights = u32::from_le_bytes(*weights);
    let inputs = u32::from_le_bytes(inputs.map(|x| x as u8));
    let mut acc = acc;
    // Safety: the instructions only read and write the registers named below, touch no
    // memory and no stack, and exist on every Armv7E-M core, the only targets with `arm_dsp`
    // (see build.rs). `SMLAD` may set the sticky Q flag, which Rust code never reads, and the
    // block does not claim to preserve flags.
    unsafe {
        core::arch::asm!(
            "sxtb16 {w_even}, {w}",
            "sxtb16 {x_even}, {x}",
            "smlad {acc}, {w_even}, {x_even}, {acc}",
            "sxtb16 {w}, {w}, ror #8",
            "sxtb16 {x}, {x}, ror #8",
            "smlad {acc}, {w}, {x}, {acc}",
            w = inout(reg) weights => _,
            x = inout(reg) inputs => _,
            w_even = out(reg) _,
            x_even = out(reg) _,
            acc = inout(reg) acc,
            options(pure, nomem, nostack),
        );
    }
    acc
}

pub(crate) fn check_len(needed: usize, available: usize) -> Result<(), EngineError> {
    if available < needed {
        return Err(EngineError::BufferTooSmall { needed, available });
    }
    Ok(())
}

/// Number of `i8` elements of scratch space that [`run_layer`] needs for `layer`: the padded
/// input and a block of widened patches and weights of a convolution, or the widened input of
/// a dense layer.
pub fn layer_scratch_len(layer: &Layer<'_>) -> usize {
    match ConvPlan::new(layer) {
        Some(plan) => plan.scratch_len(),
        None => scratch_len(0, dense_word_len(layer.fan_in())),
    }
}

/// Runs one layer from `input` into `output`, with `scratch` of at least
/// [`layer_scratch_len`] elements as working memory.
///
/// # Errors
///
/// [`EngineError::BufferTooSmall`] when `input`, `scratch` or `output` is shorter than the
/// layer needs.
pub fn run_layer(
    layer: &Layer<'_>,
    input: &[i8],
    scratch: &mut [i8],
    output: &mut [i8],
) -> Result<(), EngineError> {
    check_len(layer.input_shape.len(), input.len())?;
    check_len(layer.output_shape.len(), output.len())?;
    stage_input(layer, &input[..layer.input_shape.len()], scratch)?.compute(layer, output)
}

/// Runs one layer on the tensor at the start of `tensor` and writes its output over it. Every
/// layer copies its input into `scratch` before it writes, so one activation buffer suffices.
pub(crate) fn run_layer_in_place(
    layer: &Layer<'_>,
    tensor: &mut [i8],
    scratch: &mut [i8],
) -> Result<(), EngineError> {
    let input_len = layer.input_shape.len();
    let output_len = layer.output_shape.len();
    check_len(input_len.max(output_len), tensor.len())?;
    let staged = stage_input(layer, &tensor[..input_len], scratch)?;
    staged.compute(layer, &mut tensor[..output_len])
}

/// A layer input copied into the scratch buffer in the form its kernel reads.
enum StagedInput<'s> {
    Conv(StagedConv<'s>),
    /// The widened input of a dense layer: the words `[even, odd]` of each group of four.
    Dense(&'s [u32]),
}

fn stage_input<'s>(
    layer: &Layer<'_>,
    input: &[i8],
    scratch: &'s mut [i8],
) -> Result<StagedInput<'s>, EngineError> {
    match ConvPlan::new(layer) {
        Some(plan) => Ok(StagedInput::Conv(plan.stage(
            input,
            layer.input_zero_point,
            scratch,
        )?)),
        None => {
            check_len(layer.fan_in(), input.len())?;
            let (_, words) = split_scratch(scratch, 0, dense_word_len(layer.fan_in()))?;
            widen_row(&input[..layer.fan_in()], words);
            Ok(StagedInput::Dense(words))
        }
    }
}

impl StagedInput<'_> {
    fn compute(self, layer: &Layer<'_>, output: &mut [i8]) -> Result<(), EngineError> {
        match self {
            StagedInput::Conv(conv) => conv.compute(layer, output),
            StagedInput::Dense(inputs) => dense(layer, inputs, output),
        }
    }
}

/// Words of the widened input of a dense layer: two per group of four values.
fn dense_word_len(fan_in: usize) -> usize {
    2 * fan_in.div_ceil(4)
}

/// Returns the `i8` scratch length that fits `byte_len` bytes followed by `word_len`
/// word-aligned `u32` words, whatever the alignment of the buffer.
pub(crate) fn scratch_len(byte_len: usize, word_len: usize) -> usize {
    byte_len + (align_of::<u32>() - 1) + size_of::<u32>() * word_len
}

/// Splits `scratch` into `byte_len` bytes and the following `word_len` aligned words.
///
/// # Errors
///
/// [`EngineError::BufferTooSmall`] when `scratch` is shorter than
/// [`scratch_len`]`(byte_len, word_len)`.
#[allow(unsafe_code)]
pub(crate) fn split_scratch(
    scratch: &mut [i8],
    byte_len: usize,
    word_len: usize,
) -> Result<(&mut [i8], &mut [u32]), EngineError> {
    check_len(scratch_len(byte_len, word_len), scratch.len())?;
    let (bytes, rest) = scratch.split_at_mut(byte_len);
    let misalignment = rest.as_ptr() as usize % align_of::<u32>();
    let skip = (align_of::<u32>() - misalignment) % align_of::<u32>();
    let aligned = &mut rest[skip..skip + size_of::<u32>() * word_len];
    // Safety: `aligned` is aligned for `u32` (the skip above) and exactly `word_len` words
    // long, and it is borrowed mutably for the lifetime of the result, so nothing else can
    // reach its bytes. Every bit pattern is a valid `u32`, and the bytes were initialized as
    // `i8`.
    let words =
        unsafe { core::slice::from_raw_parts_mut(aligned.as_mut_ptr().cast::<u32>(), word_len) };
    Ok((bytes, words))
}

/// Fully connected layer over the whole input tensor, two output channels per pass.
///
/// # Shapes
///
/// - `inputs`: the widened input of `in_features` values (`[c, h, w]` flattened in storage
///   order)
/// - `output`: `out_features`
fn dense(layer: &Layer<'_>, inputs: &[u32], output: &mut [i8]) -> Result<(), EngineError> {
    check_len(dense_word_len(layer.fan_in()), inputs.len())?;
    check_len(layer.output_shape.len(), output.len())?;
    let zero_point = layer.output_zero_point;
    let mut channels = layer.channels().zip(layer.weight_rows());
    let mut outputs = output.iter_mut();
    while let Some((first, first_weights)) = channels.next() {
        let second = channels.next();
        // Without a second channel the first row is used twice and the copy is dropped.
        let second_weights = second.map_or(first_weights, |(_, weights)| weights);
        let bias = [first.bias, second.map_or(0, |(params, _)| params.bias)];
        let acc = dot_rows([first_weights, second_weights], inputs, bias);

        let Some(first_slot) = outputs.next() else {
            return Ok(());
        };
        *first_slot = OutputStage::new(&first, zero_point).apply(acc[0]);
        if let (Some((params, _)), Some(slot)) = (second, outputs.next()) {
            *slot = OutputStage::new(&params, zero_point).apply(acc[1]);
        }
    }
    Ok(())
}

/// The requantization and activation of one output channel, prepared once per channel: the
/// bias and, for shifts in the range of [`Rescale`], the multiply-add-shift form of both
/// multipliers. Other channels fall back to [`activate`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct OutputStage {
    pub(crate) bias: i32,
    /// `[positive, negative]`, or `None` when a shift lies outside the range of [`Rescale`].
    rescale: Option<[Rescale; 2]>,
    channel: ChannelParams,
    zero_point: i8,
}

impl OutputStage {
    pub(crate) fn new(channel: &ChannelParams, zero_point: i8) -> Self {
        let positive = Rescale::new(channel.positive, zero_point);
        let negative = Rescale::new(channel.negative, zero_point);
        OutputStage {
            bias: channel.bias,
            rescale: positive
                .zip(negative)
                .map(|(positive, negative)| [positive, negative]),
            channel: *channel,
            zero_point,
        }
    }

    /// Returns [`activate`]`(acc, channel, zero_point)`.
    #[inline(always)]
    pub(crate) fn apply(&self, acc: i32) -> i8 {
        match &self.rescale {
            Some(rescale) => rescale.apply_signed(acc),
            None => activate_cold(acc, &self.channel, self.zero_point),
        }
    }

    /// Prepares two channels that are computed together; a missing second channel gets a
    /// zero bias and a stage whose outputs the caller drops.
    pub(crate) fn pair(
        first: &ChannelParams,
        second: Option<ChannelParams>,
        zero_point: i8,
    ) -> OutputPair {
        let first = OutputStage::new(first, zero_point);
        let second = second.map_or(first, |second| OutputStage::new(&second, zero_point));
        let bias = [first.bias, second.bias];
        let rescale = first.rescale.zip(second.rescale).map(|(a, b)| [a, b]);
        OutputPair {
            bias,
            rescale,
            stages: [first, second],
        }
    }
}

#[inline(never)]
#[cold]
fn activate_cold(acc: i32, channel: &ChannelParams, zero_point: i8) -> i8 {
    activate(acc, channel, zero_point)
}

/// The output stages of two channels computed together.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OutputPair {
    pub(crate) bias: [i32; 2],
    /// `[channel][acc < 0]`, when both channels have the fast form.
    rescale: Option<[[Rescale; 2]; 2]>,
    stages: [OutputStage; 2],
}

impl OutputPair {
    /// Returns the requantization of both channels as the table of [`crate::simd::SlotJob`],
    /// or `None` when a channel has no fast form.
    #[cfg(arm_dsp)]
    pub(crate) fn table(&self) -> Option<[[[i32; 4]; 2]; 2]> {
        let rescale = self.rescale.as_ref()?;
        Some(rescale.map(|channel| {
            channel.map(|rescale| [rescale.multiplier, rescale.offset, rescale.shift as i32, 0])
        }))
    }

    /// Writes the outputs of positions `index` and `index + 1` of both channel rows, from the
    /// accumulators `[first channel x 2 positions, second channel x 2 positions]`. Positions
    /// past the end of a row are skipped, so an empty row drops its outputs.
    #[inline(always)]
    pub(crate) fn store(&self, rows: &mut [&mut [i8]; 2], index: usize, acc: [i32; 4]) {
        let Some([first, second]) = &self.rescale else {
            self.store_exact(rows, index, acc);
            return;
        };
        let [first_row, second_row] = rows;
        store_two(
            first_row,
            index,
            [first.apply_signed(acc[0]), first.apply_signed(acc[1])],
        );
        store_two(
            second_row,
            index,
            [second.apply_signed(acc[2]), second.apply_signed(acc[3])],
        );
    }

    #[inline(never)]
    fn store_exact(&self, rows: &mut [&mut [i8]; 2], index: usize, acc: [i32; 4]) {
        let [first_row, second_row] = rows;
        let [first, second] = &self.stages;
        store_two(first_row, index, [first.apply(acc[0]), first.apply(acc[1])]);
        store_two(
            second_row,
            index,
            [second.apply(acc[2]), second.apply(acc[3])],
        );
    }
}

/// Writes `values` to `row[index]` and `row[index + 1]`, skipping positions past the end.
#[inline(always)]
fn store_two(row: &mut [i8], index: usize, values: [i8; 2]) {
    match row.get_mut(index..index + 2) {
        Some(pair) => pair.copy_from_slice(&values),
        None => {
            if let Some(slot) = row.get_mut(index) {
                *slot = values[0];
            }
        }
    }
}

/// The [`Rescale`] of a channel's positive and negative multipliers.
trait SignedRescale {
    /// Applies the rescale that the sign of `acc` selects.
    fn apply_signed(&self, acc: i32) -> i8;
}

impl SignedRescale for [Rescale; 2] {
    #[inline(always)]
    fn apply_signed(&self, acc: i32) -> i8 {
        self[(acc as u32 >> 31) as usize].apply(acc)
    }
}

/// [`requantize`] for requantization shifts 2..=24 as one 32x32 -> high 32-bit multiply, one
/// addition and one arithmetic shift: `(high32(acc * multiplier) + offset) >> (t + 1)` with
/// `t = requantization.shift - 2` and `offset = (1 + 2 * zero_point) << t`, then the clamp.
///
/// With `n = 31 + requantization.shift = 33 + t`, `requantize` computes
/// `floor(p / 2^n + 1/2) + zero_point` for the product `p`. Flooring `p` to `high32(p) =
/// floor(p / 2^32)` first changes nothing, because floors of floors by powers of two compose,
/// and adding `zero_point * 2^(t + 1)` before the last floor adds `zero_point` after it. The
/// sum never overflows: `|high32(p)| <= 2^30` and `|offset| <= 255 * 2^22 < 2^30`.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
struct Rescale {
    multiplier: i32,
    offset: i32,
    shift: u32,
}

impl Rescale {
    /// Prepares `requantization` with the output zero point, or returns `None` when its shift
    /// lies outside 2..=24.
    fn new(requantization: Requantization, zero_point: i8) -> Option<Rescale> {
        let shift = requantization.shift;
        if !(2..=24).contains(&shift) {
            return None;
        }
        let t = (shift - 2) as u32;
        Some(Rescale {
            multiplier: requantization.multiplier,
            offset: (1 + 2 * i32::from(zero_point)) << t,
            shift: t + 1,
        })
    }

    #[inline(always)]
    fn apply(&self, acc: i32) -> i8 {
        let high = ((i64::from(acc) * i64::from(self.multiplier)) >> 32) as i32;
        ((high + self.offset) >> self.shift).clamp(-128, 127) as i8
    }
}

/// Projects the int8 feature vector onto the first `scores.len()` scores (at most the
/// projection's row count): `scores[r] = (bias[r] + sum_i w[r, i] * features[i]) *
/// score_scale[r]`, the accumulator converted to `f32` (round to nearest) before the one `f32`
/// multiplication.
///
/// # Errors
///
/// [`EngineError::BufferTooSmall`] when `features` is shorter than a weight row.
pub fn project(
    projection: &Projection<'_>,
    features: &[i8],
    scores: &mut [f32],
) -> Result<(), EngineError> {
    let feature_size = projection.weight_rows().next().map_or(0, <[u8]>::len);
    check_len(feature_size, features.len())?;

    let rows = projection.rows().zip(projection.weight_rows());
    for (score, (row, weights)) in scores.iter_mut().zip(rows) {
        let acc = row.bias.wrapping_add(dot(weights, features));
        *score = acc as f32 * row.score_scale;
    }
    Ok(())
}
