//! GenKSC on the emulated Cortex-M4F of QEMU's mps2-an386 machine.
//!
//! The program assigns each embedded test image to a cluster and prints one line per image on
//! standard output, `image <i>: cluster <c> strength <x.xxx>`, the format of `host assign`.
//! Measurements go to standard error: SysTick ticks and instructions per inference, the
//! model's multiply-accumulate count, and the peak stack use. QEMU exits with status 0, or with
//! 1 after an invalid model, a failed inference, a panic or a fault.
//!
//! Instruction counts are exact multiples of 40 only when QEMU runs with `-icount shift=0`, as
//! the runner in `.cargo/config.toml` does. Without it SysTick follows the host's clock.

#![no_std]
#![no_main]

use core::fmt;

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{ExceptionFrame, entry, exception};
use cortex_m_semihosting::{debug, hprintln};
use firmware::{Engine, EngineError, Model, error, info};
use panic_semihosting as _;

mod test_data {
    include!(concat!(env!("OUT_DIR"), "/test_data.rs"));
}

use test_data::{IMAGE_COUNT, IMAGE_LEN, IMAGES, MODEL_FILE, SCRATCH_LEN};

/// Instructions per SysTick tick: QEMU with `-icount shift=0` runs one instruction per
/// nanosecond, and mps2-an386 clocks SysTick from its 25 MHz system clock.
const INSTRUCTIONS_PER_TICK: u32 = 40;

/// SysTick's largest reload value; the counter is 24 bits wide.
const SYST_MAX_RELOAD: u32 = 0x00ff_ffff;

/// Value that cortex-m-rt's `paint-stack` feature writes over the whole stack at reset.
const STACK_PAINT: u32 = 0xcccc_cccc;

/// Reason the program stops with a failure status.
enum Failure {
    Engine(EngineError),
    /// The core peripherals were already taken, which only a second call of `run` can cause.
    PeripheralsTaken,
    /// An inference took longer than SysTick's 24-bit range, so its tick count is wrong.
    SysTickWrapped {
        image: usize,
    },
}

impl From<EngineError> for Failure {
    fn from(error: EngineError) -> Self {
        Failure::Engine(error)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Engine(error) => write!(f, "{error}"),
            Failure::PeripheralsTaken => write!(f, "the core peripherals are already taken"),
            Failure::SysTickWrapped { image } => write!(
                f,
                "the inference of image {image} took more than {} SysTick ticks",
                SYST_MAX_RELOAD
            ),
        }
    }
}

#[entry]
fn main() -> ! {
    let status = match run() {
        Ok(()) => debug::EXIT_SUCCESS,
        Err(failure) => {
            error!("{}", failure);
            debug::EXIT_FAILURE
        }
    };
    info!("peak stack use: {} bytes", stack_peak());
    debug::exit(status);
    // QEMU stops at the exit call; a debugger may let the core go on.
    loop {
        cortex_m::asm::wfi();
    }
}

fn run() -> Result<(), Failure> {
    let peripherals = cortex_m::Peripherals::take().ok_or(Failure::PeripheralsTaken)?;
    let mut counter = InstructionCounter::start(peripherals.SYST);

    let model = Model::parse(&MODEL_FILE.0).map_err(EngineError::Format)?;
    let engine = Engine::new(model);
    let mut scratch = [0i8; SCRATCH_LEN];

    let mut total_ticks = 0u64;
    for (index, image) in IMAGES.chunks_exact(IMAGE_LEN).enumerate() {
        let (assignment, ticks) = counter.measure(|| engine.assign(image, &mut scratch));
        let assignment = assignment?;
        let ticks = ticks.ok_or(Failure::SysTickWrapped { image: index })?;
        hprintln!("{}", assignment.line(index));
        info!(
            "image {}: {} SysTick ticks, {} instructions",
            index,
            ticks,
            ticks * INSTRUCTIONS_PER_TICK
        );
        total_ticks += u64::from(ticks);
    }

    let macs = multiply_accumulates(&model) as u64;
    let instructions = total_ticks * u64::from(INSTRUCTIONS_PER_TICK) / IMAGE_COUNT as u64;
    info!(
        "mean over {} images: {} instructions per inference, {} multiply-accumulates, {} \
         instructions per 100 MACs",
        IMAGE_COUNT,
        instructions,
        macs,
        instructions * 100 / macs.max(1)
    );
    Ok(())
}

/// Counts the multiply-accumulates of one inference: every layer, and the `k - 1` projection
/// rows the engine computes.
fn multiply_accumulates(model: &Model<'_>) -> usize {
    let layers: usize = model
        .layers()
        .map(|layer| layer.output_shape.len() * layer.fan_in())
        .sum();
    layers + (model.clusters() - 1) * model.feature_size()
}

/// SysTick running from the core clock over its full 24-bit range.
struct InstructionCounter {
    syst: SYST,
}

impl InstructionCounter {
    fn start(mut syst: SYST) -> Self {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(SYST_MAX_RELOAD);
        syst.clear_current();
        syst.enable_counter();
        InstructionCounter { syst }
    }

    /// Runs `work` and returns its result with the SysTick ticks it took, or `None` for the
    /// ticks when the counter wrapped around.
    fn measure<R>(&mut self, work: impl FnOnce() -> R) -> (R, Option<u32>) {
        // Writing the counter sets it to 0, where it stays until the next tick reloads it.
        self.syst.clear_current();
        while SYST::get_current() == 0 {}
        // Reading the wrap flag clears it.
        let _ = self.syst.has_wrapped();

        let start = SYST::get_current();
        let result = work();
        let end = SYST::get_current();

        let ticks = (!self.syst.has_wrapped()).then(|| start - end);
        (result, ticks)
    }
}

/// Returns the deepest stack use since reset in bytes: the stack region minus the words at its
/// bottom that still hold the paint.
fn stack_peak() -> usize {
    unsafe extern "C" {
        // Bounds of the stack, from cortex-m-rt's linker script as adjusted by flip-link.
        static _stack_start: u32;
        static _stack_end: u32;
    }
    let top = (&raw const _stack_start) as usize;
    let bottom = (&raw const _stack_end) as usize;

    let mut address = bottom;
    while address < top {
        // Safety: the words from `_stack_end` up to `_stack_start` are RAM that belongs to the
        // stack, and every address is 4-byte aligned because both bounds are. The words below
        // the current stack pointer are not part of any live object, and a volatile read of
        // them has no effect on the program.
        let word = unsafe { (address as *const u32).read_volatile() };
        if word != STACK_PAINT {
            break;
        }
        address += 4;
    }
    top - address
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    error!("hard fault at pc {:#010x}", frame.pc());
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    error!("unexpected exception or interrupt {}", irqn);
    debug::exit(debug::EXIT_FAILURE);
}
