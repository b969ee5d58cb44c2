//! GenKSC on an STM32F411 ("Black Pill" or Nucleo-F411RE) with an SSD1306 128x64 I2C OLED.
//!
//! The program steps through the embedded test images, one every [`STEP_PERIOD_MS`]
//! milliseconds or at each press of the button on PA0. For each one it draws the result
//! screen (the image, the cluster's name and prototype, the membership strength and the
//! uncertain mark) and logs the assignment line and the core cycles of the inference over
//! defmt RTT.
//!
//! Wiring (see `firmware/boards/README.md`): OLED SCL on PB8, SDA on PB9, both at 3.3 V; a
//! push button from PA0 to ground. Without a display the program logs the results only.

#![no_std]
#![no_main]

use cortex_m::peripheral::DWT;
use cortex_m_rt::entry;
use defmt_rtt as _;
use display_interface::DisplayError;
use firmware::render::draw_result;
use firmware::{Engine, Model, error, info, warn};
use panic_probe as _;
use ssd1306::mode::BufferedGraphicsMode;
use ssd1306::prelude::*;
use ssd1306::{I2CDisplayInterface, Ssd1306};
use stm32f4xx_hal::pac;
use stm32f4xx_hal::prelude::*;

mod test_data {
    include!(concat!(env!("OUT_DIR"), "/test_data.rs"));
}

use test_data::{IMAGE_COUNT, IMAGE_LEN, IMAGES, MODEL_FILE, SCRATCH_LEN};

/// Time each image stays on screen unless the button is pressed, in milliseconds.
const STEP_PERIOD_MS: u32 = 3_000;
/// Interval between two reads of the button, in milliseconds, which also debounces it.
const BUTTON_POLL_MS: u32 = 10;

type Display<I2C> =
    Ssd1306<I2CInterface<I2C>, DisplaySize128x64, BufferedGraphicsMode<DisplaySize128x64>>;

#[entry]
fn main() -> ! {
    let (Some(device), Some(mut core)) = (pac::Peripherals::take(), cortex_m::Peripherals::take())
    else {
        panic!("the peripherals are already taken");
    };

    // 100 MHz from the internal 16 MHz oscillator, so no board-specific crystal is assumed.
    let rcc = device.RCC.constrain();
    let clocks = rcc.cfgr.sysclk(100.MHz()).freeze();
    core.DCB.enable_trace();
    core.DWT.enable_cycle_counter();

    let gpioa = device.GPIOA.split();
    let gpiob = device.GPIOB.split();
    let button = gpioa.pa0.into_pull_up_input();
    let scl = gpiob.pb8.internal_pull_up(true);
    let sda = gpiob.pb9.internal_pull_up(true);
    let i2c = device.I2C1.i2c((scl, sda), 400.kHz(), &clocks);
    let mut delay = device.TIM5.delay_us(&clocks);

    let mut display = Ssd1306::new(
        I2CDisplayInterface::new(i2c),
        DisplaySize128x64,
        DisplayRotation::Rotate0,
    )
    .into_buffered_graphics_mode();
    let mut display_ok = match display.init() {
        Ok(()) => true,
        Err(failure) => {
            warn!(
                "no SSD1306 display found, logging only: {}",
                display_error_name(&failure)
            );
            false
        }
    };

    let model = match Model::parse(&MODEL_FILE.0) {
        Ok(model) => model,
        Err(failure) => defmt::panic!("invalid model file: {}", failure),
    };
    let engine = Engine::new(model);
    let mut scratch = [0i8; SCRATCH_LEN];
    info!(
        "{} test images, {} clusters, {} scratch bytes",
        IMAGE_COUNT,
        model.clusters(),
        SCRATCH_LEN
    );

    let mut index = 0;
    loop {
        let image = &IMAGES[index * IMAGE_LEN..(index + 1) * IMAGE_LEN];
        let start = DWT::cycle_count();
        let result = engine.assign(image, &mut scratch);
        let cycles = DWT::cycle_count().wrapping_sub(start);
        match result {
            Ok(assignment) => {
                info!(
                    "image {}: cluster {} strength {} ({} cycles)",
                    index,
                    assignment.cluster,
                    assignment.strength(),
                    cycles
                );
                if display_ok {
                    display_ok = show(&mut display, &model, image, &assignment);
                }
            }
            Err(failure) => error!("image {}: {}", index, failure),
        }

        wait_for_step(&button, &mut delay);
        index = (index + 1) % IMAGE_COUNT;
    }
}

/// Draws the result screen and sends it to the display. Returns `false` after a display
/// error, which is logged, so that the caller stops using the display.
fn show<I2C>(
    display: &mut Display<I2C>,
    model: &Model<'_>,
    image: &[u8],
    assignment: &firmware::Assignment,
) -> bool
where
    I2C: embedded_hal::i2c::I2c,
{
    let drawn = draw_result(display, model, image, assignment);
    match drawn.and_then(|()| display.flush()) {
        Ok(()) => true,
        Err(failure) => {
            error!(
                "display failed, logging only from now on: {}",
                display_error_name(&failure)
            );
            false
        }
    }
}

/// Returns the name of a display error's variant. Logging the error with `defmt::Debug2Format`
/// would link `core::fmt`, which nothing else in the program needs.
fn display_error_name(error: &DisplayError) -> &'static str {
    match error {
        DisplayError::InvalidFormatError => "InvalidFormatError",
        DisplayError::BusWriteError => "BusWriteError",
        DisplayError::DCError => "DCError",
        DisplayError::CSError => "CSError",
        DisplayError::DataFormatNotImplemented => "DataFormatNotImplemented",
        DisplayError::RSError => "RSError",
        DisplayError::OutOfBoundsError => "OutOfBoundsError",
        _ => "unknown display error",
    }
}

/// Waits [`STEP_PERIOD_MS`], or less when the button is pressed (its input goes low).
fn wait_for_step<TIM: stm32f4xx_hal::timer::Instance>(
    button: &stm32f4xx_hal::gpio::PA0<stm32f4xx_hal::gpio::Input>,
    delay: &mut stm32f4xx_hal::timer::DelayUs<TIM>,
) {
    let mut was_pressed = button.is_low();
    for _ in 0..STEP_PERIOD_MS / BUTTON_POLL_MS {
        delay.delay(BUTTON_POLL_MS.millis());
        let pressed = button.is_low();
        if pressed && !was_pressed {
            return;
        }
        was_pressed = pressed;
    }
}
