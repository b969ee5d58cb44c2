//! RGB raster with text, lines, dots and image tiles, saved as PNG.
//!
//! Drawing goes through `embedded-graphics`, whose built-in bitmap fonts need no system fonts.

use std::convert::Infallible;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use anyhow::{Context, Result};
use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::mono_font::ascii::FONT_6X10;
use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{
    Circle, Line, PrimitiveStyle, PrimitiveStyleBuilder, Rectangle, StrokeAlignment,
};
use embedded_graphics::text::{Alignment, Baseline, Text, TextStyleBuilder};

/// Width and height of one character of the label font, in pixels.
pub const CHAR_WIDTH: u32 = 6;
pub const CHAR_HEIGHT: u32 = 10;

/// Colour as 8-bit red, green and blue.
pub type Rgb = [u8; 3];

pub const WHITE: Rgb = [255, 255, 255];
pub const BLACK: Rgb = [0, 0, 0];
pub const DARK_GRAY: Rgb = [60, 60, 60];
pub const LIGHT_GRAY: Rgb = [200, 200, 200];
/// Frame colour of marked grid cells.
pub const MARK: Rgb = [230, 40, 30];

/// Ten colours that stay apart on white, one per cluster or class; more repeat.
const PALETTE: [Rgb; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

/// Returns the palette colour of category `index`.
pub fn category_color(index: usize) -> Rgb {
    PALETTE[index % PALETTE.len()]
}

/// Horizontal placement of a text relative to its anchor point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
}

/// Row-major RGB image, 3 bytes a pixel.
#[derive(Clone, Debug, PartialEq)]
pub struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl Canvas {
    /// Creates a canvas filled with `background`.
    pub fn new(width: u32, height: u32, background: Rgb) -> Self {
        let count = width as usize * height as usize;
        let pixels = background.iter().copied().cycle().take(count * 3).collect();
        Self {
            width,
            height,
            pixels,
        }
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// Returns the colour at `(x, y)`.
    ///
    /// # Panics
    /// When the point is outside the canvas.
    pub fn pixel(&self, x: u32, y: u32) -> Rgb {
        assert!(
            x < self.width && y < self.height,
            "({x}, {y}) is outside the canvas"
        );
        let start = (y as usize * self.width as usize + x as usize) * 3;
        [
            self.pixels[start],
            self.pixels[start + 1],
            self.pixels[start + 2],
        ]
    }

    /// Sets one pixel; points outside the canvas are ignored.
    pub fn set_pixel(&mut self, x: i32, y: i32, color: Rgb) {
        if x < 0 || y < 0 || x >= self.width as i32 || y >= self.height as i32 {
            return;
        }
        let start = (y as usize * self.width as usize + x as usize) * 3;
        self.pixels[start..start + 3].copy_from_slice(&color);
    }

    /// Draws a grey-level image (`side * side` values in `[0, 1]`, white is 1) with its top
    /// left corner at `(x, y)`, each pixel enlarged to `scale * scale`.
    pub fn draw_gray(&mut self, x: i32, y: i32, image: &[f32], side: usize, scale: u32) {
        let scale = scale as i32;
        for (index, &value) in image.iter().enumerate().take(side * side) {
            let level = (value.clamp(0.0, 1.0) * 255.0).round() as u8;
            let (row, col) = ((index / side) as i32, (index % side) as i32);
            for dy in 0..scale {
                for dx in 0..scale {
                    self.set_pixel(x + col * scale + dx, y + row * scale + dy, [level; 3]);
                }
            }
        }
    }

    /// Draws one line of text in the 6x10 font. `(x, y)` is the top of the text at its left
    /// end, centre or right end, chosen by `align`.
    pub fn text(&mut self, x: i32, y: i32, text: &str, color: Rgb, align: Align) {
        let character_style = MonoTextStyle::new(&FONT_6X10, rgb888(color));
        let alignment = match align {
            Align::Left => Alignment::Left,
            Align::Center => Alignment::Center,
            Align::Right => Alignment::Right,
        };
        let text_style = TextStyleBuilder::new()
            .alignment(alignment)
            .baseline(Baseline::Top)
            .build();
        let drawable = Text::with_text_style(text, Point::new(x, y), character_style, text_style);
        drawable.draw(self).unwrap_or_else(|never| match never {});
    }

    /// Draws a straight line `width` pixels thick.
    pub fn line(&mut self, from: [i32; 2], to: [i32; 2], color: Rgb, width: u32) {
        let line = Line::new(Point::new(from[0], from[1]), Point::new(to[0], to[1]));
        let styled = line.into_styled(PrimitiveStyle::with_stroke(rgb888(color), width));
        styled.draw(self).unwrap_or_else(|never| match never {});
    }

    /// Draws a filled disc of `diameter` pixels centred at `center`.
    pub fn dot(&mut self, center: [i32; 2], diameter: u32, color: Rgb) {
        let circle = Circle::with_center(Point::new(center[0], center[1]), diameter);
        let styled = circle.into_styled(PrimitiveStyle::with_fill(rgb888(color)));
        styled.draw(self).unwrap_or_else(|never| match never {});
    }

    /// Draws a ring of `diameter` pixels with a stroke `width` pixels thick inside it.
    pub fn ring(&mut self, center: [i32; 2], diameter: u32, color: Rgb, width: u32) {
        let circle = Circle::with_center(Point::new(center[0], center[1]), diameter);
        let style = PrimitiveStyleBuilder::new()
            .stroke_color(rgb888(color))
            .stroke_width(width)
            .stroke_alignment(StrokeAlignment::Inside)
            .build();
        circle
            .into_styled(style)
            .draw(self)
            .unwrap_or_else(|never| match never {});
    }

    /// Draws a rectangle with top left corner `(x, y)`: its outline `stroke` pixels thick, inside
    /// the rectangle, or filled when `stroke` is 0.
    pub fn rectangle(&mut self, x: i32, y: i32, size: [u32; 2], color: Rgb, stroke: u32) {
        let rectangle = Rectangle::new(Point::new(x, y), Size::new(size[0], size[1]));
        let style = if stroke == 0 {
            PrimitiveStyle::with_fill(rgb888(color))
        } else {
            PrimitiveStyleBuilder::new()
                .stroke_color(rgb888(color))
                .stroke_width(stroke)
                .stroke_alignment(StrokeAlignment::Inside)
                .build()
        };
        rectangle
            .into_styled(style)
            .draw(self)
            .unwrap_or_else(|never| match never {});
    }

    /// Encodes the canvas as an 8-bit RGB PNG.
    pub fn encode_png(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        self.write_png_to(&mut bytes)
            .expect("PNG encoding into memory cannot fail for a valid canvas");
        bytes
    }

    /// Writes the canvas to `path` as an 8-bit RGB PNG.
    pub fn save_png(&self, path: &Path) -> Result<()> {
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        self.write_png_to(BufWriter::new(file))
            .with_context(|| format!("cannot write the PNG {}", path.display()))
    }

    fn write_png_to<W: std::io::Write>(&self, sink: W) -> Result<(), png::EncodingError> {
        let mut encoder = png::Encoder::new(sink, self.width, self.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&self.pixels)?;
        writer.finish()
    }
}

impl OriginDimensions for Canvas {
    fn size(&self) -> Size {
        Size::new(self.width, self.height)
    }
}

impl DrawTarget for Canvas {
    type Color = Rgb888;
    type Error = Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        for Pixel(point, color) in pixels {
            self.set_pixel(point.x, point.y, [color.r(), color.g(), color.b()]);
        }
        Ok(())
    }
}

fn rgb888(color: Rgb) -> Rgb888 {
    Rgb888::new(color[0], color[1], color[2])
}

/// Width in pixels of `text` in the label font.
pub fn text_width(text: &str) -> u32 {
    text.chars().count() as u32 * CHAR_WIDTH
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gray_tile_scales_pixels() {
        let mut canvas = Canvas::new(10, 10, MARK);
        canvas.draw_gray(1, 2, &[0.0, 1.0, 0.5, 2.0], 2, 2);
        assert_eq!(canvas.pixel(0, 0), MARK);
        assert_eq!(canvas.pixel(1, 2), BLACK);
        assert_eq!(canvas.pixel(2, 3), BLACK);
        assert_eq!(canvas.pixel(3, 2), WHITE);
        assert_eq!(canvas.pixel(1, 4), [128; 3]);
        // Values above 1 are clamped to white.
        assert_eq!(canvas.pixel(4, 5), WHITE);
        assert_eq!(canvas.pixel(5, 5), MARK);
    }

    #[test]
    fn drawing_outside_is_clipped() {
        let mut canvas = Canvas::new(4, 4, WHITE);
        canvas.line([-10, 1], [10, 1], BLACK, 1);
        canvas.dot([100, 100], 5, BLACK);
        assert_eq!(canvas.pixel(0, 1), BLACK);
        assert_eq!(canvas.pixel(3, 1), BLACK);
        assert_eq!(canvas.pixel(3, 3), WHITE);
    }

    #[test]
    fn text_draws_inside_its_box() {
        let mut canvas = Canvas::new(40, 20, WHITE);
        canvas.text(2, 3, "e1", BLACK, Align::Left);
        let dark = (0..40)
            .flat_map(|x| (0..20).map(move |y| (x, y)))
            .filter(|&(x, y)| canvas.pixel(x, y) != WHITE)
            .collect::<Vec<_>>();
        assert!(!dark.is_empty(), "no text pixels drawn");
        for (x, y) in dark {
            assert!((2..2 + text_width("e1")).contains(&x), "pixel at x = {x}");
            assert!((3..3 + CHAR_HEIGHT).contains(&y), "pixel at y = {y}");
        }
    }

    #[test]
    fn png_has_canvas_size() {
        let canvas = Canvas::new(7, 3, LIGHT_GRAY);
        let bytes = canvas.encode_png();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!((info.width, info.height), (7, 3));
        assert_eq!(info.color_type, png::ColorType::Rgb);
    }
}
