//! Instructions per layer of one inference on the emulated Cortex-M4 of QEMU's mps2-an386.
//!
//! The program runs the first embedded image through the model one layer at a time, with
//! `firmware::run_layer`. It prints the instructions of each layer, of the projection and of
//! the whole `Engine::assign` on standard output, in multiples of 40 (one SysTick tick under
//! `-icount shift=0`). Run it with `cargo run --release --bin layers`.

#![no_std]
#![no_main]

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use firmware::{Engine, Model, layer_scratch_len, project, run_layer};
use panic_semihosting as _;

mod test_data {
    include!(concat!(env!("OUT_DIR"), "/test_data.rs"));
}

use test_data::{IMAGE_LEN, IMAGES, MODEL_FILE, SCRATCH_LEN};

/// Instructions per SysTick tick under `-icount shift=0` on mps2-an386 (25 MHz).
const INSTRUCTIONS_PER_TICK: u32 = 40;

/// Largest layer input or output the program handles, in elements. The MNIST012 encoder's
/// largest tensor has 3,136.
const MAX_TENSOR: usize = 16 * 1024;

#[entry]
fn main() -> ! {
    let status = if run() {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    };
    debug::exit(status);
    loop {
        cortex_m::asm::wfi();
    }
}

fn run() -> bool {
    let Some(peripherals) = cortex_m::Peripherals::take() else {
        return false;
    };
    let mut syst = peripherals.SYST;
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(0x00ff_ffff);
    syst.clear_current();
    syst.enable_counter();

    let Ok(model) = Model::parse(&MODEL_FILE.0) else {
        hprintln!("invalid model file");
        return false;
    };
    let Some(image) = IMAGES.get(..IMAGE_LEN) else {
        hprintln!("no embedded image to run");
        return false;
    };
    let mut input = [0i8; MAX_TENSOR];
    let mut output = [0i8; MAX_TENSOR];
    let mut scratch = [0i8; SCRATCH_LEN];
    for (value, &pixel) in input.iter_mut().zip(image) {
        *value = (pixel ^ 0x80) as i8;
    }

    let mut total = 0;
    for (index, layer) in model.layers().enumerate() {
        let in_len = layer.input_shape.len();
        let out_len = layer.output_shape.len();
        if in_len > MAX_TENSOR || out_len > MAX_TENSOR {
            hprintln!("layer {} is larger than the profile's buffers", index);
            return false;
        }
        let (result, ticks) = measure(&mut syst, || {
            run_layer(
                &layer,
                &input[..in_len],
                &mut scratch,
                &mut output[..out_len],
            )
        });
        if result.is_err() {
            hprintln!("layer {} failed", index);
            return false;
        }
        let macs = out_len * layer.fan_in();
        let instructions = ticks * INSTRUCTIONS_PER_TICK;
        total += instructions;
        hprintln!(
            "layer {}: {} MACs, {} instructions, {} per 100 MACs, scratch {} bytes",
            index,
            macs,
            instructions,
            instructions as usize * 100 / macs.max(1),
            layer_scratch_len(&layer)
        );
        input[..out_len].copy_from_slice(&output[..out_len]);
    }

    let mut scores = [0.0f32; 8];
    let code_len = (model.clusters() - 1).min(scores.len());
    let features = &input[..model.feature_size()];
    let (_, ticks) = measure(&mut syst, || {
        project(&model.projection(), features, &mut scores[..code_len])
    });
    hprintln!("projection: {} instructions", ticks * INSTRUCTIONS_PER_TICK);
    hprintln!("layers: {} instructions", total);

    let engine = Engine::new(model);
    let (_, ticks) = measure(&mut syst, || engine.assign(image, &mut scratch));
    hprintln!(
        "assign: {} instructions, scratch {} bytes",
        ticks * INSTRUCTIONS_PER_TICK,
        engine.scratch_len()
    );
    true
}

/// Runs `work` and returns its result with the SysTick ticks it took.
fn measure<R>(syst: &mut SYST, work: impl FnOnce() -> R) -> (R, u32) {
    syst.clear_current();
    while SYST::get_current() == 0 {}
    let start = SYST::get_current();
    let result = work();
    let end = SYST::get_current();
    (result, start - end)
}
