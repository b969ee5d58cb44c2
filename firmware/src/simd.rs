//! Dot products over int8 values widened to pairs of 16-bit lanes in one 32-bit word, the
//! operand format of the Armv7E-M DSP instructions `SXTB16` and `SMLAD`.
//!
//! # Layout
//!
//! A *lane word* contains two `i16` lanes: lane 0 in bits 0..16 and lane 1 in bits 16..32.
//! `SMLAD` multiplies lane by lane and adds both products to a 32-bit accumulator.
//!
//! Widening the four int8 values `[v0, v1, v2, v3]` of a little-endian word ([`widen`]) gives
//! the *even* word `(v0, v2)` and the *odd* word `(v1, v3)`, which is what two `SXTB16` produce.
//! The lanes come out of order, but a dot product only needs both operands to pair the same
//! values, so every buffer below widens groups of four consecutive values the same way.
//!
//! A *row* of `n` values is `ceil(n / 4)` groups; the last group is padded with zeros. Two rows
//! `a` and `b` (two output channels, or the patches of two output positions) are *interleaved*
//! as four words per group: `[a.even, b.even, a.odd, b.odd]`.
//!
//! # Exactness
//!
//! Every product of two widened int8 values is exact in 32 bits, and the accumulators wrap
//! modulo 2^32 on both paths (`SMLAD` wraps like `wrapping_add`), so the `arm_dsp` and portable
//! versions return the same bits.

/// Groups per step of the assembly loop of [`conv_slots`], which runs only on interleaved rows
/// of a multiple of this many groups (16 values of each row). Callers pad with zero groups.
pub(crate) const STEP_GROUPS: usize = 4;

/// Lane words per step of the assembly loop of [`conv_slots`].
#[cfg(arm_dsp)]
const STEP_WORDS: usize = 4 * STEP_GROUPS;

/// Returns the even word `(v0, v2)` and the odd word `(v1, v3)` of the int8 values
/// `word.to_le_bytes() = [v0, v1, v2, v3]`, each value sign-extended to 16 bits.
#[cfg(not(arm_dsp))]
#[inline(always)]
pub(crate) fn widen(word: u32) -> [u32; 2] {
    let [v0, v1, v2, v3] = word
        .to_le_bytes()
        .map(|v| i32::from(v as i8) as u32 & 0xffff);
    [v0 | v2 << 16, v1 | v3 << 16]
}

/// Returns the even word `(v0, v2)` and the odd word `(v1, v3)` of the int8 values
/// `word.to_le_bytes() = [v0, v1, v2, v3]`, with `SXTB16`.
#[cfg(arm_dsp)]
#[inline(always)]
#[allow(unsafe_code)]
pub(crate) fn widen(word: u32) -> [u32; 2] {
    let even: u32;
    let odd: u32;
    // Safety: `SXTB16` only reads and writes the registers named below, touches no memory,
    // stack or flags, and exists on every Armv7E-M core, the only targets with `arm_dsp`.
    unsafe {
        core::arch::asm!(
            "sxtb16 {even}, {word}",
            "sxtb16 {odd}, {word}, ror #8",
            word = in(reg) word,
            even = out(reg) even,
            odd = out(reg) odd,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    [even, odd]
}

/// Returns `acc + a.lane0 * b.lane0 + a.lane1 * b.lane1`, wrapping, like `SMLAD`.
#[inline(always)]
fn smlad(acc: i32, a: u32, b: u32) -> i32 {
    let low = i32::from(a as i16) * i32::from(b as i16);
    let high = i32::from((a >> 16) as i16) * i32::from((b >> 16) as i16);
    acc.wrapping_add(low).wrapping_add(high)
}

/// Adds to `acc` the four dot products of two interleaved weight rows with two interleaved
/// patch rows, over the common length of both slices rounded down to whole groups of four
/// words. The order is `[w0 . x0, w0 . x1, w1 . x0, w1 . x1]`, where `w0` and `w1` are the
/// rows of `weights` and `x0` and `x1` those of `patches`.
///
/// This is the portable version; Armv7E-M targets run [`conv_slots`] instead, except for
/// channels whose requantization has no fast form.
pub(crate) fn dot_2x2(weights: &[u32], patches: &[u32], acc: [i32; 4]) -> [i32; 4] {
    let len = weights.len().min(patches.len()) / 4 * 4;
    let mut acc = acc;
    for (w, x) in weights[..len]
        .chunks_exact(2)
        .zip(patches[..len].chunks_exact(2))
    {
        acc[0] = smlad(acc[0], w[0], x[0]);
        acc[1] = smlad(acc[1], w[0], x[1]);
        acc[2] = smlad(acc[2], w[1], x[0]);
        acc[3] = smlad(acc[3], w[1], x[1]);
    }
    acc
}

/// The parameters of [`conv_slots`] that stay in memory while it runs.
#[cfg(arm_dsp)]
#[repr(C)]
pub(crate) struct SlotJob {
    /// Initial accumulators of a slot: `[first, first, second, second]` channel biases.
    pub(crate) bias: [i32; 4],
    /// `[channel][acc < 0]`: the multiplier, offset and shift of the requantization's fast
    /// form (see `Rescale` in the kernels module), and an unused 0 that makes each entry 16
    /// bytes.
    pub(crate) rescale: [[[i32; 4]; 2]; 2],
}

/// Computes two output channels at the positions of whole slots (both lanes used) and writes
/// the requantized outputs. For slot `i`, the first weight row gives `first[2 i]` and
/// `first[2 i + 1]`, and the second row gives the same entries of `second`. A missing second
/// channel writes nothing there.
///
/// Each slot takes the weight rows of `weights` (one slot, a non-zero multiple of
/// [`STEP_WORDS`] words) and the next slot of `slots`. Does nothing when the lengths do not
/// fit together.
#[cfg(arm_dsp)]
#[inline(never)]
#[allow(unsafe_code)]
pub(crate) fn conv_slots(
    job: &SlotJob,
    weights: &[u32],
    slots: &[u32],
    first: &mut [i8],
    second: Option<&mut [i8]>,
) {
    let slot_words = weights.len();
    if slot_words == 0 || !slot_words.is_multiple_of(STEP_WORDS) || slots.is_empty() {
        return;
    }
    let slot_count = slots.len() / slot_words;
    let mut unused = [0i8; 2];
    let (second, second_step) = match second {
        Some(row) => (row, 2usize),
        None => (&mut unused[..], 0),
    };
    let second_needed = if second_step == 0 { 2 } else { 2 * slot_count };
    if slots.len() != slot_count * slot_words
        || first.len() < 2 * slot_count
        || second.len() < second_needed
    {
        return;
    }
    macro_rules! group {
        () => {
            concat!(
                "ldm r12!, {{r4, r5, r6, r7}}\n",
                "ldm lr!, {{r8, r9, r10, r11}}\n",
                "smlad r0, r4, r8, r0\n",
                "smlad r1, r4, r9, r1\n",
                "smlad r2, r5, r8, r2\n",
                "smlad r3, r5, r9, r3\n",
                "smlad r0, r6, r10, r0\n",
                "smlad r1, r6, r11, r1\n",
                "smlad r2, r7, r10, r2\n",
                "smlad r3, r7, r11, r3\n",
            )
        };
    }
    // Requantizes the accumulator in register `$acc` with the table entry of channel table
    // `$table` that its sign selects: `ssat(smmla(acc, multiplier, offset) >> shift, 8)`.
    macro_rules! requantize {
        ($acc:literal, $table:literal) => {
            concat!(
                "lsr r4, ",
                $acc,
                ", #31\n",
                "add r4, ",
                $table,
                ", r4, lsl #4\n",
                "ldm r4, {{r4, r5, r6}}\n",
                "smmla ",
                $acc,
                ", ",
                $acc,
                ", r4, r5\n",
                "asr ",
                $acc,
                ", ",
                $acc,
                ", r6\n",
                "ssat ",
                $acc,
                ", #8, ",
                $acc,
                "\n",
            )
        };
    }
    // Safety: the block keeps a frame of 32 bytes below r6 and r7, which it pushes first and
    // pops last, so the stack pointer, its 8-byte alignment, r6 and r7 are as they were.
    // Nothing reads r6 or r7 while the block runs: all operands are in registers or in the
    // frame. Frame: [sp] end of the current slot, [sp, #4] `job`, [sp, #8] and [sp, #12] the
    // output pointers, [sp, #16] the end of `slots`, [sp, #20] the step of the second output
    // pointer, [sp, #24] `weights`, [sp, #28] the bytes of a slot.
    //
    // Reads: each slot reads the `slot_words` words of `weights` through r12 and the next
    // `slot_words` words of `slots` through lr, both word-aligned as `LDM` requires, in steps
    // of 16 words; `slot_words` is a non-zero multiple of 16 and `slots` holds exactly
    // `slot_count >= 1` slots, so the loops stop at the ends of both. `job` is read at fixed
    // offsets inside its 80 bytes.
    //
    // Writes: two bytes per slot at the first output pointer, which advances by 2, and at the
    // second one, which advances by `second_step`; the checks above give `first` room for
    // `2 * slot_count` bytes and `second` room for all it receives.
    //
    // `SMLAD` may set the Q flag, which Rust code never reads; the block does not claim to
    // keep flags.
    unsafe {
        core::arch::asm!(
            "push {{r6, r7}}",
            "sub sp, sp, #32",
            "str r0, [sp, #4]",
            "strd r1, r2, [sp, #8]",
            "strd r3, r4, [sp, #16]",
            "strd r5, r8, [sp, #24]",
            // Slot loop: accumulators from the biases, weights from the start of the row.
            "3:",
            "ldrd r4, r5, [sp, #24]",
            "mov r12, r4",
            "add r5, lr, r5",
            "str r5, [sp]",
            "ldr r4, [sp, #4]",
            "ldm r4, {{r0, r1, r2, r3}}",
            "2:",
            group!(),
            group!(),
            group!(),
            group!(),
            "ldr r4, [sp]",
            "cmp lr, r4",
            "bne 2b",
            // Requantization: the first channel's table is at `job + 16`, the second's 32
            // bytes further.
            "ldr r12, [sp, #4]",
            "add r12, r12, #16",
            "add r7, r12, #32",
            requantize!("r0", "r12"),
            requantize!("r1", "r12"),
            requantize!("r2", "r7"),
            requantize!("r3", "r7"),
            "ldrd r4, r5, [sp, #8]",
            "ldr r6, [sp, #20]",
            "strb r0, [r4], #1",
            "strb r1, [r4], #1",
            "strb r2, [r5]",
            "strb r3, [r5, #1]",
            "add r5, r5, r6",
            "strd r4, r5, [sp, #8]",
            "ldr r4, [sp, #16]",
            "cmp lr, r4",
            "bne 3b",
            "add sp, sp, #32",
            "pop {{r6, r7}}",
            inout("r0") job as *const SlotJob => _,
            inout("r1") first.as_mut_ptr() => _,
            inout("r2") second.as_mut_ptr() => _,
            inout("r3") slots.as_ptr_range().end => _,
            inout("r4") second_step => _,
            inout("r5") weights.as_ptr() => _,
            inout("r8") slot_words * 4 => _,
            out("r9") _,
            out("r10") _,
            out("r11") _,
            out("r12") _,
            inout("lr") slots.as_ptr() => _,
        );
    }
}

/// Widens the groups of four values of two int8 rows (`row as i8` per byte) into interleaved
/// words, for as many whole groups as both rows and `words` hold. Returns that number of groups.
pub(crate) fn widen_pair(first: &[u8], second: &[u8], words: &mut [u32]) -> usize {
    let groups = (first.len() / 4).min(second.len() / 4).min(words.len() / 4);
    #[cfg(arm_dsp)]
    widen_pair_arm(
        &first[..4 * groups],
        &second[..4 * groups],
        &mut words[..4 * groups],
    );
    #[cfg(not(arm_dsp))]
    {
        let first_quads = first[..4 * groups].as_chunks::<4>().0;
        let second_quads = second[..4 * groups].as_chunks::<4>().0;
        let quads = first_quads.iter().zip(second_quads);
        for ((a, b), out) in quads.zip(words.as_chunks_mut::<4>().0) {
            let [a_even, a_odd] = widen(u32::from_le_bytes(*a));
            let [b_even, b_odd] = widen(u32::from_le_bytes(*b));
            *out = [a_even, b_even, a_odd, b_odd];
        }
    }
    groups
}

/// Runs [`widen_pair`] in assembly for rows of `words.len()` bytes: one group takes two `LDR`,
/// four `SXTB16` and one `STM` of the four words.
#[cfg(arm_dsp)]
#[inline(always)]
#[allow(unsafe_code)]
fn widen_pair_arm(first: &[u8], second: &[u8], words: &mut [u32]) {
    if words.is_empty() || first.len() < words.len() || second.len() < words.len() {
        return;
    }
    // Safety: each group reads four bytes of each row (`LDR` allows unaligned addresses on
    // Armv7E-M) and writes four words through r12, which is word-aligned as `STM` requires.
    // `words` has a non-zero multiple of four words and both rows at least as many bytes,
    // so the loop ends at the end of `words` with every access inside the slices. The block
    // uses no stack and leaves the flags changed.
    unsafe {
        core::arch::asm!(
            "2:",
            "ldr r4, [r0], #4",
            "ldr r5, [r1], #4",
            "sxtb16 r2, r4",
            "sxtb16 r3, r5",
            "sxtb16 r4, r4, ror #8",
            "sxtb16 r5, r5, ror #8",
            "stm r12!, {{r2, r3, r4, r5}}",
            "cmp r12, lr",
            "bne 2b",
            inout("r0") first.as_ptr() => _,
            inout("r1") second.as_ptr() => _,
            out("r2") _,
            out("r3") _,
            out("r4") _,
            out("r5") _,
            inout("r12") words.as_mut_ptr() => _,
            in("lr") words.as_mut_ptr_range().end,
            options(nostack),
        );
    }
}

/// Adds to `acc` the dot products of two int8 rows (`row as i8` per byte) with one widened
/// input row, over the common length of the rows and the `4 * inputs.len() / 2` values of
/// `inputs`. The inputs are the words `[even, odd]` of each group of four values.
#[inline(always)]
pub(crate) fn dot_rows(rows: [&[u8]; 2], inputs: &[u32], acc: [i32; 2]) -> [i32; 2] {
    let len = rows[0].len().min(rows[1].len()).min(inputs.len() / 2 * 4);
    #[cfg(arm_dsp)]
    let (acc, first_group) = {
        let steps = len / 16;
        (dot_rows_steps(rows, inputs, steps, acc), 4 * steps)
    };
    #[cfg(not(arm_dsp))]
    let first_group = 0;

    let mut acc = acc;
    let groups = inputs.chunks_exact(2).enumerate();
    for (group, x) in groups.take(len.div_ceil(4)).skip(first_group) {
        let words = rows.map(|row| load_group(row, 4 * group, len));
        for (acc, word) in acc.iter_mut().zip(words) {
            let [even, odd] = widen(word);
            *acc = smlad(smlad(*acc, even, x[0]), odd, x[1]);
        }
    }
    acc
}

/// Returns the four bytes of `row` from `start` as a little-endian word, with zeros in place
/// of the bytes at `end` and beyond.
#[inline(always)]
pub(crate) fn load_group(row: &[u8], start: usize, end: usize) -> u32 {
    match row.get(start..start + 4) {
        Some(bytes) if start + 4 <= end => {
            u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
        }
        _ => {
            let mut bytes = [0u8; 4];
            for (offset, byte) in bytes.iter_mut().enumerate() {
                if start + offset < end {
                    *byte = row.get(start + offset).copied().unwrap_or(0);
                }
            }
            u32::from_le_bytes(bytes)
        }
    }
}

/// Runs `steps` steps of four groups of [`dot_rows`] in assembly.
///
/// One group takes 11 instructions for 8 multiply-accumulates: two `LDR` of four weights, one
/// `LDRD` of the widened inputs, four `SXTB16` and four `SMLAD`.
#[cfg(arm_dsp)]
#[inline(always)]
#[allow(unsafe_code)]
fn dot_rows_steps(rows: [&[u8]; 2], inputs: &[u32], steps: usize, acc: [i32; 2]) -> [i32; 2] {
    let words = 8 * steps;
    if steps == 0 || rows[0].len() < 16 * steps || rows[1].len() < 16 * steps {
        return acc;
    }
    let Some(inputs) = inputs.get(..words) else {
        return acc;
    };
    let [mut a0, mut a1] = acc;
    macro_rules! group {
        () => {
            concat!(
                "ldr {w0}, [{p0}], #4\n",
                "ldr {w1}, [{p1}], #4\n",
                "ldrd {xe}, {xo}, [{xp}], #8\n",
                "sxtb16 {t}, {w0}\n",
                "smlad {a0}, {t}, {xe}, {a0}\n",
                "sxtb16 {w0}, {w0}, ror #8\n",
                "smlad {a0}, {w0}, {xo}, {a0}\n",
                "sxtb16 {t}, {w1}\n",
                "smlad {a1}, {t}, {xe}, {a1}\n",
                "sxtb16 {w1}, {w1}, ror #8\n",
                "smlad {a1}, {w1}, {xo}, {a1}\n",
            )
        };
    }
    // Safety: each step reads 16 bytes of each row through p0 and p1 (`LDR` allows unaligned
    // addresses on Armv7E-M) and 8 words of `inputs` through xp (word-aligned, as `LDRD`
    // requires). The checks above keep all reads inside the slices for `steps` steps. The
    // block uses no stack; `SMLAD` may set the Q flag, and the block does not claim to keep
    // flags.
    unsafe {
        core::arch::asm!(
            "2:",
            group!(),
            group!(),
            group!(),
            group!(),
            "cmp {xp}, {end}",
            "bne 2b",
            a0 = inout(reg) a0,
            a1 = inout(reg) a1,
            p0 = inout(reg) rows[0].as_ptr() => _,
            p1 = inout(reg) rows[1].as_ptr() => _,
            xp = inout(reg) inputs.as_ptr() => _,
            end = in(reg) inputs.as_ptr_range().end,
            w0 = out(reg) _,
            w1 = out(reg) _,
            t = out(reg) _,
            xe = out(reg) _,
            xo = out(reg) _,
            options(nostack),
        );
    }
    [a0, a1]
}

/// Widens `values` into `words`: the words `[even, odd]` of each group of four values, the last
/// group padded with zeros, for as many groups as both hold.
pub(crate) fn widen_row(values: &[i8], words: &mut [u32]) {
    let (quads, tail) = values.as_chunks::<4>();
    let mut pairs = words.chunks_exact_mut(2);
    for (quad, pair) in quads.iter().zip(&mut pairs) {
        pair.copy_from_slice(&widen(u32::from_le_bytes(quad.map(|v| v as u8))));
    }
    if let (false, Some(pair)) = (tail.is_empty(), pairs.next()) {
        let mut quad = [0u8; 4];
        for (byte, &value) in quad.iter_mut().zip(tail) {
            *byte = value as u8;
        }
        pair.copy_from_slice(&widen(u32::from_le_bytes(quad)));
    }
}
