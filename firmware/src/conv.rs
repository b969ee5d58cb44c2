//! 2-D convolution in blocks of two output channels by two output positions.
//!
//! The kernel works in three stages, all in the caller's scratch buffer:
//!
//! 1. [`pad_input`] copies the input tensor into a tensor that already contains the padding
//!    (the input zero point), so that every receptive field lies inside it and the gather needs
//!    no bounds logic.
//! 2. The output positions are split into blocks of at most [`PATCH_BLOCK_BYTES`] of patches.
//!    For each block, the patch of every position (its receptive field in weight order,
//!    `[in][kernel_h][kernel_w]`) is gathered and widened to 16-bit lanes once, two positions
//!    interleaved per slot (see [`crate::simd`] for the layout).
//! 3. For each pair of output channels, the two weight rows are widened and interleaved once
//!    per block. Then each slot gives four accumulators (two channels by two positions), which
//!    are requantized and stored. On Armv7E-M `conv_slots` does this in assembly for all slots
//!    of the pair. On other targets, and for channels whose requantization has no fast form,
//!    [`dot_2x2`] computes the accumulators.
//!
//! Each widened value then feeds two `SMLAD`s, and all widening happens outside the inner
//! loop: once per patch and once per weight row and block.

use model_format::{Layer, LayerKind, TensorShape};

use crate::EngineError;
use crate::kernels::{OutputStage, check_len, split_scratch};
use crate::simd::{STEP_GROUPS, dot_2x2, widen, widen_pair};
#[cfg(arm_dsp)]
use crate::simd::{SlotJob, conv_slots};

/// Largest size in bytes of the widened patches of one block of output positions. A layer
/// whose patches take more is computed in several blocks, and each block widens all weights
/// of the layer again. 9 KiB fit all 16 positions of a 3x3 convolution over 32 channels
/// (fan-in 288) and 18 of a 4x4 convolution over 16 channels (fan-in 256). Every block takes
/// at least two positions, whatever the fan-in.
pub(crate) const PATCH_BLOCK_BYTES: usize = 9 * 1024;

/// Bytes after the padded input, so that every kernel row can be read in whole 32-bit words.
const ROW_SLACK: usize = 3;

/// Shapes and buffer sizes of one convolution layer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConvPlan {
    input: TensorShape,
    /// Height and width of the input with its padding.
    padded: [usize; 2],
    padding: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    output: TensorShape,
    /// Groups of four values per patch and weight row, the last one padded with zeros.
    groups: usize,
    /// Output positions per block, an even number.
    block_positions: usize,
}

impl ConvPlan {
    /// Returns the plan of `layer`, or `None` when it is not a convolution.
    pub(crate) fn new(layer: &Layer<'_>) -> Option<ConvPlan> {
        let LayerKind::Conv2d {
            kernel,
            stride,
            padding,
        } = layer.kind
        else {
            return None;
        };
        let input = layer.input_shape;
        let padding = padding.map(usize::from);
        let fan_in = layer.fan_in();
        let groups = fan_in.div_ceil(4).next_multiple_of(STEP_GROUPS);
        let output = layer.output_shape;
        // Two positions take one slot of `4 * groups` words.
        let position_bytes = 8 * groups;
        let positions = (output.height * output.width).next_multiple_of(2);
        let fitting = (PATCH_BLOCK_BYTES / position_bytes.max(1)) / 2 * 2;
        Some(ConvPlan {
            input,
            padded: [input.height + 2 * padding[0], input.width + 2 * padding[1]],
            padding,
            kernel: kernel.map(usize::from),
            stride: stride.map(usize::from),
            output,
            groups,
            block_positions: fitting.clamp(2, positions.max(2)),
        })
    }

    fn padded_len(&self) -> usize {
        self.input.channels * self.padded[0] * self.padded[1] + ROW_SLACK
    }

    /// Words of one slot: the interleaved rows of two patches or two weight rows.
    fn slot_words(&self) -> usize {
        4 * self.groups
    }

    fn word_len(&self) -> usize {
        (self.block_positions / 2 + 1) * self.slot_words()
    }

    /// Returns the number of `i8` elements of scratch space the layer needs.
    pub(crate) fn scratch_len(&self) -> usize {
        crate::kernels::scratch_len(self.padded_len(), self.word_len())
    }

    /// Copies `input` into the padded input in `scratch` and returns the buffers of the
    /// remaining stages.
    pub(crate) fn stage<'s>(
        &self,
        input: &[i8],
        zero_point: i8,
        scratch: &'s mut [i8],
    ) -> Result<StagedConv<'s>, EngineError> {
        check_len(self.input.len(), input.len())?;
        let padded_len = self.padded_len();
        let (padded, words) = split_scratch(scratch, padded_len, self.word_len())?;
        pad_input(self, &input[..self.input.len()], zero_point, padded);
        Ok(StagedConv {
            plan: *self,
            padded,
            words,
        })
    }
}

/// A convolution whose input has been copied into the scratch buffer.
pub(crate) struct StagedConv<'s> {
    plan: ConvPlan,
    padded: &'s [i8],
    words: &'s mut [u32],
}

impl StagedConv<'_> {
    /// Computes the layer into `output` (`[out, out_height, out_width]`).
    pub(crate) fn compute(self, layer: &Layer<'_>, output: &mut [i8]) -> Result<(), EngineError> {
        let plan = &self.plan;
        let positions = plan.output.height * plan.output.width;
        check_len(plan.output.len(), output.len())?;
        let output = &mut output[..plan.output.len()];
        let slot_words = plan.slot_words();
        let (weight_pair, patches) = self.words.split_at_mut(slot_words);

        let mut block_start = 0;
        while block_start < positions {
            let block_len = plan.block_positions.min(positions - block_start);
            let slots = &mut patches[..block_len.div_ceil(2) * slot_words];
            for (slot_index, slot) in slots.chunks_exact_mut(slot_words).enumerate() {
                let first = block_start + 2 * slot_index;
                let second = (2 * slot_index + 1 < block_len).then(|| plan.origin(first + 1));
                let origins = (plan.origin(first), second);
                gather_slot(plan, self.padded, origins, slot);
            }
            let block = block_start..block_start + block_len;
            compute_block(layer, plan, weight_pair, slots, block, output);
            block_start += block_len;
        }
        Ok(())
    }
}

impl ConvPlan {
    /// Offset in the padded input of the top-left corner of the receptive field of output
    /// position `position` (`out_y * out_width + out_x`).
    fn origin(&self, position: usize) -> usize {
        let out_y = position / self.output.width;
        let out_x = position % self.output.width;
        out_y * self.stride[0] * self.padded[1] + out_x * self.stride[1]
    }
}

/// Computes every output channel of one block of positions into `output`.
fn compute_block(
    layer: &Layer<'_>,
    plan: &ConvPlan,
    weight_pair: &mut [u32],
    slots: &[u32],
    block: core::ops::Range<usize>,
    output: &mut [i8],
) {
    let positions = plan.output.height * plan.output.width;
    let slot_words = plan.slot_words();
    let zero_point = layer.output_zero_point;
    let mut channels = layer.channels().zip(layer.weight_rows());
    let mut output_rows = output.chunks_exact_mut(positions.max(1));
    while let Some((first, first_weights)) = channels.next() {
        let second = channels.next();
        let second_weights = second.map_or(&[][..], |(_, weights)| weights);
        widen_weight_pair([first_weights, second_weights], weight_pair);
        // Without a second channel the second weight row is zero and its outputs are dropped.
        let stages = OutputStage::pair(&first, second.map(|(params, _)| params), zero_point);

        let (Some(first_row), second_row) = (output_rows.next(), output_rows.next()) else {
            return;
        };
        let (Some(first_row), second_row) = (
            first_row.get_mut(block.clone()),
            second_row.and_then(|row| row.get_mut(block.clone())),
        ) else {
            return;
        };
        let [first_bias, second_bias] = stages.bias;
        let bias = [first_bias, first_bias, second_bias, second_bias];
        #[cfg(arm_dsp)]
        if let Some(rescale) = stages.table() {
            let job = SlotJob { bias, rescale };
            compute_slots_arm(&job, weight_pair, slots, first_row, second_row);
            continue;
        }

        let mut rows = [first_row, second_row.unwrap_or_default()];
        for (slot_index, slot) in slots.chunks_exact(slot_words).enumerate() {
            let acc = dot_2x2(weight_pair, slot, bias);
            stages.store(&mut rows, 2 * slot_index, acc);
        }
    }
}

/// Runs [`conv_slots`] over the slots of a block whose outputs start at `first` and `second`.
/// A last slot with only its first lane used writes through a two-byte buffer, so that the
/// unused lane cannot overwrite the next block.
#[cfg(arm_dsp)]
fn compute_slots_arm(
    job: &SlotJob,
    weight_pair: &[u32],
    slots: &[u32],
    first: &mut [i8],
    mut second: Option<&mut [i8]>,
) {
    let slot_words = weight_pair.len().max(1);
    let full_slots = first.len() / 2;
    let (full, last) = slots.split_at(slots.len().min(full_slots * slot_words));
    conv_slots(job, weight_pair, full, first, second.as_deref_mut());
    if last.is_empty() {
        return;
    }
    let index = 2 * full_slots;
    let mut first_pair = [0i8; 2];
    let mut second_pair = [0i8; 2];
    let second_pair_slot = second.as_ref().map(|_| &mut second_pair[..]);
    conv_slots(job, weight_pair, last, &mut first_pair, second_pair_slot);
    if let Some(slot) = first.get_mut(index) {
        *slot = first_pair[0];
    }
    if let Some(slot) = second.and_then(|row| row.get_mut(index)) {
        *slot = second_pair[0];
    }
}

/// Copies `input` (`[in, height, width]`) into `padded` (`[in, height + 2 * padding_y,
/// width + 2 * padding_x]` plus [`ROW_SLACK`] bytes) and fills the border and the slack with
/// `zero_point`.
fn pad_input(plan: &ConvPlan, input: &[i8], zero_point: i8, padded: &mut [i8]) {
    let TensorShape { height, width, .. } = plan.input;
    let [padded_height, padded_width] = plan.padded;
    let [padding_y, padding_x] = plan.padding;
    padded.fill(zero_point);
    if height == 0 || width == 0 {
        return;
    }
    let planes = input.chunks_exact(height * width);
    let padded_planes = padded.chunks_exact_mut(padded_height * padded_width);
    for (plane, padded_plane) in planes.zip(padded_planes) {
        let mut start = padding_y * padded_width + padding_x;
        for row in plane.chunks_exact(width) {
            if let Some(target) = padded_plane.get_mut(start..start + width) {
                copy_bytes(target, row);
            }
            start += padded_width;
        }
    }
}

/// Copies `source` into `destination` (of the same length) a word at a time, because the rows
/// here are a few words long and a `memcpy` call costs more than the copy.
#[inline(always)]
fn copy_bytes(destination: &mut [i8], source: &[i8]) {
    let (target_words, target_tail) = destination.as_chunks_mut::<4>();
    let (source_words, source_tail) = source.as_chunks::<4>();
    for (target, source) in target_words.iter_mut().zip(source_words) {
        *target = load_bytes(source).to_le_bytes().map(|v| v as i8);
    }
    for (target, &source) in target_tail.iter_mut().zip(source_tail) {
        *target = source;
    }
}

/// Returns four int8 values as a little-endian word.
#[inline(always)]
fn load_bytes(values: &[i8; 4]) -> u32 {
    u32::from_le_bytes(values.map(|v| v as u8))
}

/// Gathers the patches of the positions whose receptive fields start at `origins` (a missing
/// second position gives zeros) into the two lanes of `slot`.
fn gather_slot(plan: &ConvPlan, padded: &[i8], origins: (usize, Option<usize>), slot: &mut [u32]) {
    let (first, second) = origins;
    let origins = [first, second.unwrap_or(first)];
    let Some(kernel_rows) = KernelRows::new(plan, padded, origins) else {
        slot.fill(0);
        return;
    };
    if plan.kernel[1] == 4 {
        // A kernel row is one group, so the rows widen as they are.
        let mut groups = slot.as_chunks_mut::<4>().0.iter_mut();
        kernel_rows.for_each(|rows, _| {
            if let Some(words) = groups.next() {
                *words = interleave(rows);
            }
        });
        for words in groups {
            *words = [0; 4];
        }
    } else {
        pack_rows(kernel_rows, slot);
    }
    if second.is_none() {
        clear_lane(slot, 1);
    }
}

/// Widens one group of each of two rows and interleaves them: `[first.even, second.even,
/// first.odd, second.odd]`.
#[inline(always)]
fn interleave(groups: [u32; 2]) -> [u32; 4] {
    let [first_even, first_odd] = widen(groups[0]);
    let [second_even, second_odd] = widen(groups[1]);
    [first_even, second_even, first_odd, second_odd]
}

/// Packs the kernel rows of two receptive fields, in words of up to four values, into groups
/// of four consecutive values and widens them into `slot`. The last group is padded with zeros.
fn pack_rows(kernel_rows: KernelRows<'_>, slot: &mut [u32]) {
    let mut groups = slot.as_chunks_mut::<4>().0.iter_mut();
    // The values not yet emitted, in the low `pending_bits` bits; at most three values.
    let (mut first_pending, mut second_pending) = (0u32, 0u32);
    let mut pending_bits = 0u32;
    kernel_rows.for_each(|[first, second], len| {
        let bits = 8 * len as u32;
        let mask = u32::MAX.unbounded_shr(32 - bits);
        let (first, second) = (first & mask, second & mask);
        let first_joined = first_pending | first << pending_bits;
        let second_joined = second_pending | second << pending_bits;
        if pending_bits + bits < 32 {
            (first_pending, second_pending) = (first_joined, second_joined);
            pending_bits += bits;
            return;
        }
        if let Some(group) = groups.next() {
            *group = interleave([first_joined, second_joined]);
        }
        first_pending = first.unbounded_shr(32 - pending_bits);
        second_pending = second.unbounded_shr(32 - pending_bits);
        pending_bits = pending_bits + bits - 32;
    });
    if pending_bits > 0
        && let Some(group) = groups.next()
    {
        *group = interleave([first_pending, second_pending]);
    }
    for group in groups {
        *group = [0; 4];
    }
}

/// The kernel rows of the receptive fields of two output positions in the padded input.
struct KernelRows<'a> {
    plan: &'a ConvPlan,
    padded: &'a [i8],
    origins: [usize; 2],
}

impl<'a> KernelRows<'a> {
    /// Returns the rows of the receptive fields that start at `origins`, or `None` when the
    /// layer has no kernel rows or a field, read in words of four values, does not lie inside
    /// `padded`.
    fn new(plan: &'a ConvPlan, padded: &'a [i8], origins: [usize; 2]) -> Option<Self> {
        let [kernel_h, kernel_w] = plan.kernel;
        let padded_width = plan.padded[1];
        let plane_len = plan.padded[0] * padded_width;
        // The last word read starts at the last row of the last channel's plane.
        let last_row = (plan.input.channels.checked_sub(1)? * plane_len)
            + (kernel_h.checked_sub(1)? * padded_width);
        let field_len = last_row + 4 * kernel_w.div_ceil(4);
        let fits = |origin: usize| {
            origin
                .checked_add(field_len)
                .is_some_and(|end| end <= padded.len())
        };
        if kernel_w == 0 || !origins.into_iter().all(fits) {
            return None;
        }
        Some(KernelRows {
            plan,
            padded,
            origins,
        })
    }

    /// Calls `visit` with the words of four values of both fields, in weight order
    /// (`[in][kernel_h][kernel_w]`), and the number of values of the word that belong to the
    /// row: four, and fewer in the last word of a row whose width is not a multiple of four.
    #[inline(always)]
    #[allow(unsafe_code)]
    fn for_each(&self, mut visit: impl FnMut([u32; 2], usize)) {
        let plan = self.plan;
        let [kernel_h, kernel_w] = plan.kernel;
        let padded_width = plan.padded[1];
        let plane_len = plan.padded[0] * padded_width;
        let base = self.padded.as_ptr();
        let [first_origin, second_origin] = self.origins;
        let mut plane = 0;
        for _ in 0..plan.input.channels {
            let mut row = plane;
            for _ in 0..kernel_h {
                let mut start = row;
                let mut left = kernel_w;
                while left > 0 {
                    // Safety: `start + 4 <= last_row + 4 * ceil(kernel_w / 4) = field_len` and
                    // `origin + field_len <= padded.len()` for both origins, as `new` checked,
                    // so the four bytes lie inside `padded`; the read needs no alignment.
                    let [first, second] = unsafe {
                        [
                            base.add(first_origin + start)
                                .cast::<[u8; 4]>()
                                .read_unaligned(),
                            base.add(second_origin + start)
                                .cast::<[u8; 4]>()
                                .read_unaligned(),
                        ]
                    };
                    visit(
                        [u32::from_le_bytes(first), u32::from_le_bytes(second)],
                        left.min(4),
                    );
                    start += 4;
                    left = left.saturating_sub(4);
                }
                row += padded_width;
            }
            plane += plane_len;
        }
    }
}

/// Sets lane `lane` of `slot` to zeros, for the missing second position of a block with an
/// odd number of positions.
fn clear_lane(slot: &mut [u32], lane: usize) {
    for words in slot.as_chunks_mut::<4>().0 {
        words[lane & 1] = 0;
        words[2 + (lane & 1)] = 0;
    }
}

/// Widens two weight rows into the interleaved slot `weight_pair`. The rows have the same
/// length, the fan-in, except that a missing second row is empty and becomes zeros.
fn widen_weight_pair(rows: [&[u8]; 2], weight_pair: &mut [u32]) {
    let [first, second] = rows;
    let mut done = 0;
    if second.len() == first.len() {
        done = widen_pair(first, second, weight_pair);
    }
    let groups = weight_pair
        .as_chunks_mut::<4>()
        .0
        .iter_mut()
        .enumerate()
        .skip(done);
    for (group, words) in groups {
        let start = (4 * group).min(first.len());
        let [a_even, a_odd] = widen(tail_word(&first[start..]));
        let [b_even, b_odd] = widen(tail_word(second.get(start..).unwrap_or(&[])));
        *words = [a_even, b_even, a_odd, b_odd];
    }
}

/// Returns the first four bytes of `tail` (fewer when it is shorter) as a little-endian word,
/// padded with zeros.
fn tail_word(tail: &[u8]) -> u32 {
    let mut bytes = [0u8; 4];
    for (byte, &value) in bytes.iter_mut().zip(tail) {
        *byte = value;
    }
    u32::from_le_bytes(bytes)
}
