//! Vector figure made of a few shape kinds, drawn either to a raster or to SVG text.

use std::fmt::Write;

use super::canvas::{Align, Canvas, Rgb};

/// One shape in pixel coordinates, y pointing down.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    Line {
        from: [f32; 2],
        to: [f32; 2],
        color: Rgb,
        width: u32,
    },
    Dot {
        center: [f32; 2],
        diameter: u32,
        color: Rgb,
    },
    Ring {
        center: [f32; 2],
        diameter: u32,
        color: Rgb,
        width: u32,
    },
    /// Outline `stroke` pixels thick, or filled when `stroke` is 0.
    Rectangle {
        top_left: [f32; 2],
        size: [f32; 2],
        color: Rgb,
        stroke: u32,
    },
    /// One line of text; `at` is the top of the text at the point `align` names.
    Text {
        at: [f32; 2],
        text: String,
        color: Rgb,
        align: Align,
    },
}

/// Shapes on a background, drawn in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Scene {
    pub width: u32,
    pub height: u32,
    pub background: Rgb,
    pub shapes: Vec<Shape>,
}

impl Scene {
    /// Draws the scene into a raster of `width x height` pixels.
    pub fn to_canvas(&self) -> Canvas {
        let mut canvas = Canvas::new(self.width, self.height, self.background);
        for shape in &self.shapes {
            match shape {
                Shape::Line {
                    from,
                    to,
                    color,
                    width,
                } => {
                    canvas.line(pixel(*from), pixel(*to), *color, *width);
                }
                Shape::Dot {
                    center,
                    diameter,
                    color,
                } => {
                    canvas.dot(pixel(*center), *diameter, *color);
                }
                Shape::Ring {
                    center,
                    diameter,
                    color,
                    width,
                } => {
                    canvas.ring(pixel(*center), *diameter, *color, *width);
                }
                Shape::Rectangle {
                    top_left,
                    size,
                    color,
                    stroke,
                } => {
                    let [x, y] = pixel(*top_left);
                    let size = [size[0].round() as u32, size[1].round() as u32];
                    canvas.rectangle(x, y, size, *color, *stroke);
                }
                Shape::Text {
                    at,
                    text,
                    color,
                    align,
                } => {
                    let [x, y] = pixel(*at);
                    canvas.text(x, y, text, *color, *align);
                }
            }
        }
        canvas
    }

    /// Writes the scene as a standalone SVG document with the same pixel size.
    pub fn to_svg(&self) -> String {
        let mut svg = String::new();
        let (width, height) = (self.width, self.height);
        // `fmt::Write` for `String` always returns `Ok`.
        let _ = writeln!(
            svg,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
             viewBox=\"0 0 {width} {height}\" font-family=\"monospace\" font-size=\"10\">"
        );
        let _ = writeln!(
            svg,
            "<rect width=\"{width}\" height=\"{height}\" fill=\"{}\"/>",
            hex(self.background)
        );
        for shape in &self.shapes {
            write_svg_shape(&mut svg, shape);
        }
        svg.push_str("</svg>\n");
        svg
    }
}

fn write_svg_shape(svg: &mut String, shape: &Shape) {
    let _ = match shape {
        Shape::Line {
            from,
            to,
            color,
            width,
        } => writeln!(
            svg,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{}\" \
             stroke-width=\"{width}\"/>",
            from[0],
            from[1],
            to[0],
            to[1],
            hex(*color)
        ),
        Shape::Dot {
            center,
            diameter,
            color,
        } => writeln!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{:.1}\" fill=\"{}\"/>",
            center[0],
            center[1],
            *diameter as f32 / 2.0,
            hex(*color)
        ),
        Shape::Ring {
            center,
            diameter,
            color,
            width,
        } => writeln!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{:.1}\" fill=\"none\" stroke=\"{}\" \
             stroke-width=\"{width}\"/>",
            center[0],
            center[1],
            (*diameter as f32 - *width as f32) / 2.0,
            hex(*color)
        ),
        Shape::Rectangle {
            top_left,
            size,
            color,
            stroke,
        } => {
            let paint = if *stroke == 0 {
                format!("fill=\"{}\"", hex(*color))
            } else {
                format!(
                    "fill=\"none\" stroke=\"{}\" stroke-width=\"{stroke}\"",
                    hex(*color)
                )
            };
            // An SVG stroke is centred on the outline; move it inside as on the raster.
            let inset = *stroke as f32 / 2.0;
            writeln!(
                svg,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" {paint}/>",
                top_left[0] + inset,
                top_left[1] + inset,
                size[0] - 2.0 * inset,
                size[1] - 2.0 * inset
            )
        }
        Shape::Text {
            at,
            text,
            color,
            align,
        } => {
            let anchor = match align {
                Align::Left => "start",
                Align::Center => "middle",
                Align::Right => "end",
            };
            writeln!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{}\" text-anchor=\"{anchor}\" \
                 dominant-baseline=\"hanging\">{}</text>",
                at[0],
                at[1],
                hex(*color),
                escape(text)
            )
        }
    };
}

fn pixel(point: [f32; 2]) -> [i32; 2] {
    [point[0].round() as i32, point[1].round() as i32]
}

fn hex(color: Rgb) -> String {
    format!("#{:02x}{:02x}{:02x}", color[0], color[1], color[2])
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pictures::canvas::{BLACK, WHITE};

    fn scene() -> Scene {
        Scene {
            width: 30,
            height: 20,
            background: WHITE,
            shapes: vec![
                Shape::Line {
                    from: [0.0, 10.0],
                    to: [29.0, 10.0],
                    color: BLACK,
                    width: 1,
                },
                Shape::Dot {
                    center: [5.0, 16.0],
                    diameter: 3,
                    color: [255, 0, 0],
                },
                Shape::Text {
                    at: [1.0, 1.0],
                    text: "a<b & c".into(),
                    color: BLACK,
                    align: Align::Left,
                },
            ],
        }
    }

    #[test]
    fn raster_draws_shapes() {
        let canvas = scene().to_canvas();
        assert_eq!((canvas.width(), canvas.height()), (30, 20));
        assert_eq!(canvas.pixel(20, 10), BLACK);
        assert_eq!(canvas.pixel(5, 16), [255, 0, 0]);
        assert_eq!(canvas.pixel(20, 18), WHITE);
    }

    #[test]
    fn svg_has_size_and_escaped_text() {
        let svg = scene().to_svg();
        assert!(svg.starts_with("<svg "), "{svg}");
        assert!(svg.contains("width=\"30\" height=\"20\""), "{svg}");
        assert!(
            svg.contains("<line x1=\"0.0\" y1=\"10.0\" x2=\"29.0\""),
            "{svg}"
        );
        assert!(svg.contains("<circle cx=\"5.0\" cy=\"16.0\" r=\"1.5\" fill=\"#ff0000\"/>"));
        assert!(svg.contains(">a&lt;b &amp; c</text>"), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"));
    }
}
