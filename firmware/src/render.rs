//! The result screen of one assignment, for 128x64 monochrome displays such as the SSD1306.
//!
//! [`draw_result`] draws on any `embedded-graphics` [`DrawTarget`] with [`BinaryColor`]:
//!
//! ```text
//!  0        57   62                          127
//!  +----------+  cluster name (6x10 font, 11 characters at most)
//!  |  input   |  +--------+      +-----+
//!  |  image   |  |prototyp|      |  ?  |  <- only when the assignment is uncertain
//!  |  56x56   |  | 28x28  |      +-----+
//!  |          |  +--------+
//!  |          |  [#########.....]          <- membership strength bar
//!  +----------+  0.872
//! ```
//!
//! The input image is thresholded at half intensity. The decoded prototype is a smooth grey
//! image, so it is drawn with 4x4 ordered dithering to keep its shading. Both are scaled with
//! nearest-neighbour sampling from the model's input size, and only the first channel of a
//! multi-channel image is shown.
//!
//! [`Framebuffer`] is an in-memory 128x64 target for hosts and tests. Its `Display`
//! implementation prints the screen as ASCII art.

use core::convert::Infallible;
use core::fmt::{self, Write as _};

use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::mono_font::ascii::FONT_6X10;
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};
use embedded_graphics::text::{Baseline, Text};
use model_format::{Model, TensorShape};

use crate::Assignment;
use crate::membership::thousandths_text;

/// Width of the result screen in pixels.
pub const SCREEN_WIDTH: u32 = 128;
/// Height of the result screen in pixels.
pub const SCREEN_HEIGHT: u32 = 64;

/// Input image, 2x scale of a 28x28 image, inside a one-pixel frame.
const INPUT_AREA: Rectangle = Rectangle::new(Point::new(1, 4), Size::new(56, 56));
/// Left edge of the column with the name, the prototype and the bar.
const PANEL_LEFT: i32 = 62;
/// Width of that column, up to the right edge of the screen.
const PANEL_WIDTH: u32 = SCREEN_WIDTH - PANEL_LEFT as u32;
/// Characters of the cluster name that fit in the column with the 6-pixel wide font.
const NAME_MAX_CHARS: usize = PANEL_WIDTH as usize / 6;
const PROTOTYPE_AREA: Rectangle = Rectangle::new(Point::new(PANEL_LEFT, 12), Size::new(28, 28));
const UNCERTAIN_AREA: Rectangle = Rectangle::new(Point::new(100, 14), Size::new(24, 24));
const BAR_AREA: Rectangle = Rectangle::new(Point::new(PANEL_LEFT, 44), Size::new(PANEL_WIDTH, 8));
const STRENGTH_TOP: i32 = 54;

/// 4x4 Bayer matrix: the order in which the pixels of a 4x4 tile turn on as grey rises.
const BAYER_4X4: [[u8; 4]; 4] = [[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]];

/// Draws the result screen of `assignment` for `image`: the image, the assigned cluster's
/// name and decoded prototype from `model`, a bar for the membership strength with its value,
/// and a question mark when the assignment is uncertain.
///
/// It first clears the 128x64 screen area, so it draws every pixel of it. An `image` shorter
/// than the model's input reads as black where pixels are missing, and a cluster without a
/// name or prototype in the model (which a parsed model always has) leaves that part empty.
///
/// # Errors
///
/// Returns the first error of `display`.
pub fn draw_result<D>(
    display: &mut D,
    model: &Model<'_>,
    image: &[u8],
    assignment: &Assignment,
) -> Result<(), D::Error>
where
    D: DrawTarget<Color = BinaryColor>,
{
    let screen = Rectangle::new(Point::zero(), Size::new(SCREEN_WIDTH, SCREEN_HEIGHT));
    display.fill_solid(&screen, BinaryColor::Off)?;

    let shape = model.input_shape();
    let frame = INPUT_AREA.offset(1);
    frame
        .into_styled(PrimitiveStyle::with_stroke(BinaryColor::On, 1))
        .draw(display)?;
    draw_image(display, image, shape, INPUT_AREA, threshold)?;

    let cluster = assignment.cluster;
    if let Some(name) = model.cluster_name(cluster) {
        let name = truncate_chars(name, NAME_MAX_CHARS);
        let style = MonoTextStyle::new(&FONT_6X10, BinaryColor::On);
        Text::with_baseline(name, Point::new(PANEL_LEFT, 0), style, Baseline::Top).draw(display)?;
    }
    if let Some(prototype) = model.prototype(cluster) {
        draw_image(display, prototype, shape, PROTOTYPE_AREA, ordered_dither)?;
    }
    if assignment.uncertain {
        draw_uncertain_mark(display)?;
    }
    draw_strength(display, assignment.strength())
}

/// Draws the membership bar and the strength with three decimals below it.
fn draw_strength<D>(display: &mut D, strength: f32) -> Result<(), D::Error>
where
    D: DrawTarget<Color = BinaryColor>,
{
    BAR_AREA
        .into_styled(PrimitiveStyle::with_stroke(BinaryColor::On, 1))
        .draw(display)?;
    let inner = BAR_AREA.offset(-2);
    // `as` maps NaN to 0, and the clamp keeps the bar inside its frame.
    let filled = (strength.clamp(0.0, 1.0) * inner.size.width as f32 + 0.5) as u32;
    let bar = Rectangle::new(inner.top_left, Size::new(filled, inner.size.height));
    display.fill_solid(&bar, BinaryColor::On)?;

    let text = thousandths_text(strength);
    // The text is ASCII, "0.000" to "1.000", so the conversion cannot fail.
    let text = core::str::from_utf8(&text).unwrap_or("");
    let style = MonoTextStyle::new(&FONT_6X10, BinaryColor::On);
    let position = Point::new(PANEL_LEFT, STRENGTH_TOP);
    Text::with_baseline(text, position, style, Baseline::Top).draw(display)?;
    Ok(())
}

/// Draws a white box with a black question mark, [`UNCERTAIN_MARK`].
fn draw_uncertain_mark<D>(display: &mut D) -> Result<(), D::Error>
where
    D: DrawTarget<Color = BinaryColor>,
{
    let colors = UNCERTAIN_AREA.points().map(|point| {
        let offset = point - UNCERTAIN_AREA.top_left;
        let row = UNCERTAIN_BITS[offset.y as usize % UNCERTAIN_BITS.len()];
        BinaryColor::from(row >> offset.x & 1 == 1)
    });
    display.fill_contiguous(&UNCERTAIN_AREA, colors)
}

/// The uncertain mark, drawn into [`UNCERTAIN_AREA`]: a black question mark (`#`) in a white
/// box (`.`), one string of 24 pixels per row. Its bitmap takes 96 bytes of flash, where the
/// 10x20 font that drew the mark before took 2.4 KiB for this one glyph.
const UNCERTAIN_MARK: [&str; 24] = [
    "........................",
    "........................",
    "........................",
    "........................",
    ".........######.........",
    "........########........",
    ".......###....###.......",
    ".......##......##.......",
    "...............##.......",
    "..............###.......",
    ".............###........",
    "............###.........",
    "...........###..........",
    "...........##...........",
    "...........##...........",
    "...........##...........",
    "........................",
    "........................",
    "...........##...........",
    "...........##...........",
    "........................",
    "........................",
    "........................",
    "........................",
];

/// [`UNCERTAIN_MARK`] with one bit per pixel, bit `x` of row `y`, set where the pixel is white.
const UNCERTAIN_BITS: [u32; 24] = white_bits(&UNCERTAIN_MARK);

const fn white_bits(rows: &[&str; 24]) -> [u32; 24] {
    let mut bits = [0; 24];
    let mut y = 0;
    while y < rows.len() {
        let row = rows[y].as_bytes();
        let mut x = 0;
        while x < row.len() && x < 32 {
            if row[x] != b'#' {
                bits[y] |= 1 << x;
            }
            x += 1;
        }
        y += 1;
    }
    bits
}

/// Draws the first channel of a `shape` image into `area`, scaled with nearest-neighbour
/// sampling. `is_on` decides each screen pixel from the sampled value and its screen position.
fn draw_image<D>(
    display: &mut D,
    pixels: &[u8],
    shape: TensorShape,
    area: Rectangle,
    is_on: fn(u8, Point) -> bool,
) -> Result<(), D::Error>
where
    D: DrawTarget<Color = BinaryColor>,
{
    let Size { width, height } = area.size;
    let (width, height) = (width as usize, height as usize);
    let colors = area.points().map(|point| {
        let offset = point - area.top_left;
        let (x, y) = (offset.x as usize, offset.y as usize);
        let source_y = y * shape.height / height;
        let source_x = x * shape.width / width;
        let value = pixels
            .get(source_y * shape.width + source_x)
            .copied()
            .unwrap_or(0);
        BinaryColor::from(is_on(value, point))
    });
    display.fill_contiguous(&area, colors)
}

fn threshold(value: u8, _point: Point) -> bool {
    value >= 128
}

/// On when `value` exceeds the Bayer threshold of the screen position, so a grey level `g`
/// turns on about `g / 256` of the pixels of every 4x4 tile.
fn ordered_dither(value: u8, point: Point) -> bool {
    let rank = BAYER_4X4[point.y.rem_euclid(4) as usize][point.x.rem_euclid(4) as usize];
    u16::from(value) > u16::from(rank) * 16 + 8
}

/// Returns the first `max_chars` characters of `text`.
fn truncate_chars(text: &str, max_chars: usize) -> &str {
    // `get` instead of indexing keeps the panic path for non-boundary indices out of the code.
    let end = text
        .char_indices()
        .nth(max_chars)
        .map_or(text.len(), |(end, _)| end);
    text.get(..end).unwrap_or(text)
}

/// A 128x64 one-bit image in memory, one bit per pixel, row-major.
#[derive(Clone, PartialEq, Eq)]
pub struct Framebuffer {
    bits: [u8; (SCREEN_WIDTH * SCREEN_HEIGHT / 8) as usize],
}

impl Framebuffer {
    /// Creates a framebuffer with every pixel off.
    pub const fn new() -> Self {
        Framebuffer {
            bits: [0; (SCREEN_WIDTH * SCREEN_HEIGHT / 8) as usize],
        }
    }

    /// Returns whether the pixel at column `x`, row `y` is on; `false` outside the screen.
    pub fn pixel(&self, x: u32, y: u32) -> bool {
        if x >= SCREEN_WIDTH || y >= SCREEN_HEIGHT {
            return false;
        }
        let index = (y * SCREEN_WIDTH + x) as usize;
        self.bits[index / 8] & (0x80 >> (index % 8)) != 0
    }

    fn set_pixel(&mut self, x: u32, y: u32, on: bool) {
        let index = (y * SCREEN_WIDTH + x) as usize;
        let mask = 0x80 >> (index % 8);
        if on {
            self.bits[index / 8] |= mask;
        } else {
            self.bits[index / 8] &= !mask;
        }
    }
}

impl Default for Framebuffer {
    fn default() -> Self {
        Framebuffer::new()
    }
}

impl OriginDimensions for Framebuffer {
    fn size(&self) -> Size {
        Size::new(SCREEN_WIDTH, SCREEN_HEIGHT)
    }
}

impl DrawTarget for Framebuffer {
    type Color = BinaryColor;
    type Error = Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        for Pixel(point, color) in pixels {
            // Pixels outside the screen are dropped, as the `DrawTarget` contract asks.
            if let (Ok(x), Ok(y)) = (u32::try_from(point.x), u32::try_from(point.y))
                && x < SCREEN_WIDTH
                && y < SCREEN_HEIGHT
            {
                self.set_pixel(x, y, color.is_on());
            }
        }
        Ok(())
    }
}

/// Prints one line of `#` (on) and `.` (off) per row, each line ending in `\n`.
impl fmt::Display for Framebuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for y in 0..SCREEN_HEIGHT {
            for x in 0..SCREEN_WIDTH {
                f.write_char(if self.pixel(x, y) { '#' } else { '.' })?;
            }
            f.write_char('\n')?;
        }
        Ok(())
    }
}

impl fmt::Debug for Framebuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Framebuffer(\n{self})")
    }
}
