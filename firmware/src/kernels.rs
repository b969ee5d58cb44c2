//! Integer kernels: requantization, dot products, convolution, dense layers and the projection.
//!
//! Every kernel checks its buffer lengths once on entry and returns
//! [`EngineError::BufferTooSmall`] instead of panicking. The inner loops run over contiguous
//! int8 rows with safe slice iterators, so they carry no bounds checks.

use model_format::{ChannelParams, Layer, LayerKind, Projection, Requantization, TensorShape};

use crate::EngineError;

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

/// Computes [`dot`] of `inputs` with two weight rows, over the common length of all three.
#[inline]
fn dot_pair(weights: [&[u8]; 2], inputs: &[i8]) -> [i32; 2] {
    let len = weights[0].len().min(weights[1].len()).min(inputs.len());
    let (first_quads, first_tail) = weights[0][..len].as_chunks::<4>();
    let (second_quads, second_tail) = weights[1][..len].as_chunks::<4>();
    let (input_quads, input_tail) = inputs[..len].as_chunks::<4>();

    let mut acc = [0i32; 2];
    let quads = first_quads.iter().zip(second_quads).zip(input_quads);
    for ((first, second), x) in quads {
        acc = dot4_pair(acc, [first, second], x);
    }
    let tails = first_tail.iter().zip(second_tail).zip(input_tail);
    for ((&first, &second), &x) in tails {
        acc[0] = acc[0].wrapping_add(i32::from(first as i8) * i32::from(x));
        acc[1] = acc[1].wrapping_add(i32::from(second as i8) * i32::from(x));
    }
    acc
}

/// Returns [`dot4`] of the same four inputs with two weight rows.
#[cfg(not(arm_dsp))]
#[inline(always)]
fn dot4_pair(acc: [i32; 2], weights: [&[u8; 4]; 2], inputs: &[i8; 4]) -> [i32; 2] {
    [
        dot4(acc[0], weights[0], inputs),
        dot4(acc[1], weights[1], inputs),
    ]
}

/// Returns [`dot4`] of the same four inputs with two weight rows, with `SXTB16` and `SMLAD` as
/// in the single-row version. The inputs are sign-extended once for both rows, so four products cost
/// five instructions per row instead of six, and the caller loads each input word once.
#[cfg(arm_dsp)]
#[inline(always)]
#[allow(unsafe_code)]
fn dot4_pair(acc: [i32; 2], weights: [&[u8; 4]; 2], inputs: &[i8; 4]) -> [i32; 2] {
    let first = u32::from_le_bytes(*weights[0]);
    let second = u32::from_le_bytes(*weights[1]);
    let inputs = u32::from_le_bytes(inputs.map(|x| x as u8));
    let [mut first_acc, mut second_acc] = acc;
    // Safety: as in `dot4`, the instructions only read and write the registers named below and
    // exist on every Armv7E-M core. `SMLAD` may set the Q flag, which the block does not claim
    // to preserve.
    unsafe {
        core::arch::asm!(
            "sxtb16 {x_even}, {x}",
            "sxtb16 {x}, {x}, ror #8",
            "sxtb16 {w_even}, {w0}",
            "smlad {acc0}, {w_even}, {x_even}, {acc0}",
            "sxtb16 {w0}, {w0}, ror #8",
            "smlad {acc0}, {w0}, {x}, {acc0}",
            "sxtb16 {w_even}, {w1}",
            "smlad {acc1}, {w_even}, {x_even}, {acc1}",
            "sxtb16 {w1}, {w1}, ror #8",
            "smlad {acc1}, {w1}, {x}, {acc1}",
            x = inout(reg) inputs => _,
            w0 = inout(reg) first => _,
            w1 = inout(reg) second => _,
            x_even = out(reg) _,
            w_even = out(reg) _,
            acc0 = inout(reg) first_acc,
            acc1 = inout(reg) second_acc,
            options(pure, nomem, nostack),
        );
    }
    [first_acc, second_acc]
}

fn check_len(needed: usize, available: usize) -> Result<(), EngineError> {
    if available < needed {
        return Err(EngineError::BufferTooSmall { needed, available });
    }
    Ok(())
}

/// Runs one layer from `input` into `output`. `patch` is scratch space for convolutions, of at
/// least the layer's fan-in; dense layers do not use it.
///
/// # Errors
///
/// [`EngineError::BufferTooSmall`] when `input`, `patch` or `output` is shorter than the layer
/// needs.
pub fn run_layer(
    layer: &Layer<'_>,
    input: &[i8],
    patch: &mut [i8],
    output: &mut [i8],
) -> Result<(), EngineError> {
    match layer.kind {
        LayerKind::Conv2d {
            kernel,
            stride,
            padding,
        } => {
            let geometry = ConvGeometry::new(layer.input_shape, kernel, stride, padding);
            conv2d(layer, &geometry, input, patch, output)
        }
        LayerKind::Dense => dense(layer, input, output),
    }
}

/// Kernel, stride and padding of a convolution as `usize` / `isize`, `[vertical, horizontal]`.
struct ConvGeometry {
    input: TensorShape,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [isize; 2],
}

impl ConvGeometry {
    fn new(input: TensorShape, kernel: [u8; 2], stride: [u8; 2], padding: [u8; 2]) -> Self {
        ConvGeometry {
            input,
            kernel: kernel.map(usize::from),
            stride: stride.map(usize::from),
            padding: padding.map(isize::from),
        }
    }
}

/// 2-D convolution by im2col: for each output position, gather the receptive field into `patch`
/// in `[in][kernel_h][kernel_w]` order (the order of a weight row) and take one dot product per
/// output channel.
///
/// # Shapes
///
/// - `input`: `[in, height, width]`
/// - `patch`: `in * kernel_h * kernel_w`
/// - `output`: `[out, out_height, out_width]`
fn conv2d(
    layer: &Layer<'_>,
    geometry: &ConvGeometry,
    input: &[i8],
    patch: &mut [i8],
    output: &mut [i8],
) -> Result<(), EngineError> {
    let out_shape = layer.output_shape;
    let plane_len = out_shape.height * out_shape.width;
    check_len(layer.input_shape.len(), input.len())?;
    check_len(layer.fan_in(), patch.len())?;
    check_len(out_shape.len(), output.len())?;
    let patch = &mut patch[..layer.fan_in()];

    for out_y in 0..out_shape.height {
        let top = (out_y * geometry.stride[0]) as isize - geometry.padding[0];
        for out_x in 0..out_shape.width {
            let left = (out_x * geometry.stride[1]) as isize - geometry.padding[1];
            gather_patch(geometry, input, top, left, layer.input_zero_point, patch);

            // Output element (channel, out_y, out_x) lives at channel * plane_len + position.
            let position = out_y * out_shape.width + out_x;
            let outputs = output.iter_mut().skip(position).step_by(plane_len.max(1));
            compute_channels(layer, patch, outputs);
        }
    }
    Ok(())
}

/// Copies the receptive field whose top-left corner is `(top, left)` (negative inside the
/// padding) into `patch`, writing `zero_point` for every padded position.
fn gather_patch(
    geometry: &ConvGeometry,
    input: &[i8],
    top: isize,
    left: isize,
    zero_point: i8,
    patch: &mut [i8],
) {
    let TensorShape { height, width, .. } = geometry.input;
    let [kernel_h, kernel_w] = geometry.kernel;

    // The columns of the window that lie inside the input, as patch-row and input-row ranges.
    let first = (-left).clamp(0, kernel_w as isize) as usize;
    let last = (width as isize - left).clamp(first as isize, kernel_w as isize) as usize;
    let input_first = (left + first as isize).max(0) as usize;
    let input_last = input_first + (last - first);

    let mut patch_rows = patch.chunks_exact_mut(kernel_w);
    for plane in input.chunks_exact(height * width) {
        for ky in 0..kernel_h {
            let Some(patch_row) = patch_rows.next() else {
                return;
            };
            let y = top + ky as isize;
            let input_row = usize::try_from(y)
                .ok()
                .filter(|&y| y < height)
                .and_then(|y| plane.get(y * width..(y + 1) * width));
            let Some(input_row) = input_row else {
                patch_row.fill(zero_point);
                continue;
            };

            let (left_padding, rest) = patch_row.split_at_mut(first);
            let (inside, right_padding) = rest.split_at_mut(last - first);
            // Most windows need no padding, and skipping the empty fills saves two `memset`
            // calls per row.
            if !left_padding.is_empty() {
                left_padding.fill(zero_point);
            }
            if let Some(source) = input_row.get(input_first..input_last) {
                copy_short(inside, source);
            }
            if !right_padding.is_empty() {
                right_padding.fill(zero_point);
            }
        }
    }
}

/// Copies `source` into `destination` (of the same length). Kernel rows are a few bytes long,
/// and for them a word copy is much cheaper than a call of `memcpy`.
#[inline(always)]
fn copy_short(destination: &mut [i8], source: &[i8]) {
    match (destination.len(), source.len()) {
        (4, 4) => {
            let mut word = [0i8; 4];
            word.copy_from_slice(source);
            destination.copy_from_slice(&word);
        }
        (3, 3) => {
            destination[0] = source[0];
            destination[1] = source[1];
            destination[2] = source[2];
        }
        _ => destination.copy_from_slice(source),
    }
}

/// Fully connected layer over the whole input tensor.
///
/// # Shapes
///
/// - `input`: `in_features` (any `[c, h, w]` tensor, flattened in storage order)
/// - `output`: `out_features`
fn dense(layer: &Layer<'_>, input: &[i8], output: &mut [i8]) -> Result<(), EngineError> {
    check_len(layer.fan_in(), input.len())?;
    check_len(layer.output_shape.len(), output.len())?;
    let input = &input[..layer.fan_in()];

    compute_channels(layer, input, output.iter_mut());
    Ok(())
}

/// Writes each output channel of `layer` for one input vector (a dense layer's input or a
/// convolution's patch) into the next of `outputs`: the bias plus the dot product with the
/// channel's weight row, requantized with its activation. Channels go in pairs through
/// [`dot_pair`], which reads each input word once for both.
fn compute_channels<'o>(
    layer: &Layer<'_>,
    inputs: &[i8],
    mut outputs: impl Iterator<Item = &'o mut i8>,
) {
    let zero_point = layer.output_zero_point;
    let mut channels = layer.channels().zip(layer.weight_rows());
    while let Some((first, first_weights)) = channels.next() {
        let Some(first_slot) = outputs.next() else {
            return;
        };
        let Some((second, second_weights)) = channels.next() else {
            let acc = first.bias.wrapping_add(dot(first_weights, inputs));
            *first_slot = activate(acc, &first, zero_point);
            return;
        };

        let [first_dot, second_dot] = dot_pair([first_weights, second_weights], inputs);
        *first_slot = activate(first.bias.wrapping_add(first_dot), &first, zero_point);
        let Some(second_slot) = outputs.next() else {
            return;
        };
        *second_slot = activate(second.bias.wrapping_add(second_dot), &second, zero_point);
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
