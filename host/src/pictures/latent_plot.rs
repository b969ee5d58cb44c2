//! Scatter plot of score vectors in the first two latent dims: one panel coloured by assigned
//! cluster, one by true class, both with the cluster directions drawn from the origin.

use super::canvas::{self, Align, BLACK, CHAR_HEIGHT, DARK_GRAY, LIGHT_GRAY, Rgb, WHITE};
use super::scene::{Scene, Shape};

/// Side of one square panel in pixels.
const SIDE: f32 = 360.0;
/// Room left of a panel for the tick labels.
const LEFT: f32 = 48.0;
const RIGHT: f32 = 16.0;
/// Room above the panels for the figure and panel titles.
const TOP: f32 = 44.0;
/// Room under a panel for the tick labels and the axis name.
const BELOW: f32 = 34.0;
const LINE: f32 = CHAR_HEIGHT as f32 + 4.0;
const POINT_DIAMETER: u32 = 3;
/// Colour of the tick grid lines.
const GRID_COLOR: Rgb = [235, 235, 235];

/// Everything the plot shows.
#[derive(Clone, Debug, PartialEq)]
pub struct LatentPlot {
    pub title: String,
    /// Score vectors, `[n, latent_size]` row-major; only the first two entries are drawn.
    pub scores: Vec<f32>,
    pub latent_size: usize,
    /// Assigned cluster of each point.
    pub assignments: Vec<usize>,
    /// True class index of each point.
    pub classes: Vec<usize>,
    /// Legend text of each cluster.
    pub cluster_names: Vec<String>,
    /// Palette index of each cluster, so that a cluster and its matched class share a colour.
    pub cluster_colors: Vec<usize>,
    /// Legend text of each class.
    pub class_names: Vec<String>,
    /// End point of each cluster direction in the first two dims (the farthest training point
    /// along the cluster code).
    pub directions: Vec<[f32; 2]>,
}

/// Square data window with equal scale on both axes.
struct Window {
    min: [f32; 2],
    span: f32,
}

impl Window {
    /// Smallest square around `points` and the origin, padded by 8 % on each side so that the
    /// direction labels stay inside.
    fn around(points: impl Iterator<Item = [f32; 2]>) -> Self {
        let (mut low, mut high) = ([0.0f32; 2], [0.0f32; 2]);
        for point in points {
            for axis in 0..2 {
                if point[axis].is_finite() {
                    low[axis] = low[axis].min(point[axis]);
                    high[axis] = high[axis].max(point[axis]);
                }
            }
        }
        let span = (high[0] - low[0]).max(high[1] - low[1]).max(f32::EPSILON) * 1.16;
        let center = [(low[0] + high[0]) / 2.0, (low[1] + high[1]) / 2.0];
        Self {
            min: [center[0] - span / 2.0, center[1] - span / 2.0],
            span,
        }
    }

    /// Pixel position of a data point in a panel whose top left corner is `origin`.
    fn to_pixel(&self, point: [f32; 2], origin: [f32; 2]) -> [f32; 2] {
        [
            origin[0] + (point[0] - self.min[0]) / self.span * SIDE,
            origin[1] + (1.0 - (point[1] - self.min[1]) / self.span) * SIDE,
        ]
    }
}

impl LatentPlot {
    /// Lays the two panels out side by side with their legends underneath.
    ///
    /// # Panics
    /// When `latent_size < 2` or the per-point arrays disagree in length.
    pub fn scene(&self) -> Scene {
        assert!(
            self.latent_size >= 2,
            "the plot needs at least 2 latent dims"
        );
        let n = self.scores.len() / self.latent_size;
        assert_eq!(self.assignments.len(), n, "one assignment per point");
        assert_eq!(self.classes.len(), n, "one class per point");

        let points: Vec<[f32; 2]> = self
            .scores
            .chunks_exact(self.latent_size)
            .map(|row| [row[0], row[1]])
            .collect();
        let window = Window::around(points.iter().chain(&self.directions).copied());
        let panel_width = LEFT + SIDE + RIGHT;
        let cluster_legend: Vec<(String, usize)> = self
            .cluster_names
            .iter()
            .cloned()
            .zip(self.cluster_colors.iter().copied())
            .collect();
        let class_legend: Vec<(String, usize)> = self
            .class_names
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, name)| (name, i))
            .collect();
        let legend_lines = legend_rows(&cluster_legend)
            .len()
            .max(legend_rows(&class_legend).len());
        let width = 2.0 * panel_width;
        let height = TOP + SIDE + BELOW + legend_lines as f32 * LINE + 8.0;

        let mut shapes = vec![Shape::Text {
            at: [width / 2.0, 8.0],
            text: self.title.clone(),
            color: BLACK,
            align: Align::Center,
        }];
        let cluster_colors: Vec<usize> = self
            .assignments
            .iter()
            .map(|&c| self.cluster_colors[c])
            .collect();
        let panels = [
            (
                "coloured by assigned cluster",
                cluster_colors,
                cluster_legend,
            ),
            ("coloured by true class", self.classes.clone(), class_legend),
        ];
        for (index, (name, colors, legend)) in panels.into_iter().enumerate() {
            let origin = [index as f32 * panel_width + LEFT, TOP];
            shapes.push(Shape::Text {
                at: [origin[0] + SIDE / 2.0, TOP - LINE - 2.0],
                text: name.to_string(),
                color: DARK_GRAY,
                align: Align::Center,
            });
            self.draw_axes(&mut shapes, &window, origin);
            for (point, &color) in points.iter().zip(&colors) {
                shapes.push(Shape::Dot {
                    center: window.to_pixel(*point, origin),
                    diameter: POINT_DIAMETER,
                    color: canvas::category_color(color),
                });
            }
            self.draw_directions(&mut shapes, &window, origin);
            draw_legend(&mut shapes, &legend, [origin[0], TOP + SIDE + BELOW]);
        }
        Scene {
            width: width.ceil() as u32,
            height: height.ceil() as u32,
            background: WHITE,
            shapes,
        }
    }

    /// Frame, tick grid, tick labels, zero lines and axis names of one panel.
    fn draw_axes(&self, shapes: &mut Vec<Shape>, window: &Window, origin: [f32; 2]) {
        let step = tick_step(window.span);
        let first = (window.min[0].min(window.min[1]) / step).floor() as i64;
        let last = ((window.min[0].max(window.min[1]) + window.span) / step).ceil() as i64;
        for tick in first..=last {
            let value = tick as f32 * step;
            let label = format_tick(value, step);
            let [x, _] = window.to_pixel([value, 0.0], origin);
            if (origin[0]..=origin[0] + SIDE).contains(&x) {
                let color = if tick == 0 { LIGHT_GRAY } else { GRID_COLOR };
                shapes.push(line([x, origin[1]], [x, origin[1] + SIDE], color, 1));
                let at = [x, origin[1] + SIDE + 4.0];
                shapes.push(text(at, label.clone(), DARK_GRAY, Align::Center));
            }
            let [_, y] = window.to_pixel([0.0, value], origin);
            if (origin[1]..=origin[1] + SIDE).contains(&y) {
                let color = if tick == 0 { LIGHT_GRAY } else { GRID_COLOR };
                shapes.push(line([origin[0], y], [origin[0] + SIDE, y], color, 1));
                let at = [origin[0] - 4.0, y - CHAR_HEIGHT as f32 / 2.0];
                shapes.push(text(at, label, DARK_GRAY, Align::Right));
            }
        }
        shapes.push(Shape::Rectangle {
            top_left: origin,
            size: [SIDE, SIDE],
            color: DARK_GRAY,
            stroke: 1,
        });
        let below = [origin[0] + SIDE / 2.0, origin[1] + SIDE + 4.0 + LINE];
        shapes.push(text(below, "e1".into(), BLACK, Align::Center));
        let left = [origin[0] - 4.0, origin[1] - LINE];
        shapes.push(text(left, "e2".into(), BLACK, Align::Right));
    }

    /// Line from the origin to each cluster's farthest point, a ring there and its number.
    fn draw_directions(&self, shapes: &mut Vec<Shape>, window: &Window, origin: [f32; 2]) {
        let zero = window.to_pixel([0.0, 0.0], origin);
        for (c, &end) in self.directions.iter().enumerate() {
            let tip = window.to_pixel(end, origin);
            shapes.push(line(zero, tip, BLACK, 2));
            shapes.push(Shape::Ring {
                center: tip,
                diameter: 11,
                color: BLACK,
                width: 2,
            });
            // Put the number just past the tip, away from the origin.
            let (dx, dy) = (tip[0] - zero[0], tip[1] - zero[1]);
            let length = (dx * dx + dy * dy).sqrt().max(1.0);
            let at = [
                tip[0] + 14.0 * dx / length,
                tip[1] + 14.0 * dy / length - 5.0,
            ];
            let label = format!("c{c}");
            shapes.push(Shape::Rectangle {
                top_left: [at[0] - 7.0, at[1] - 1.0],
                size: [
                    canvas::text_width(&label) as f32 + 2.0,
                    CHAR_HEIGHT as f32 + 1.0,
                ],
                color: WHITE,
                stroke: 0,
            });
            shapes.push(text(at, label, BLACK, Align::Center));
        }
    }
}

/// Legend entries split into lines that fit under one panel.
fn legend_rows(entries: &[(String, usize)]) -> Vec<Vec<(String, usize)>> {
    let per_line = ((SIDE / legend_entry_width(entries)) as usize).max(1);
    entries.chunks(per_line).map(<[_]>::to_vec).collect()
}

fn draw_legend(shapes: &mut Vec<Shape>, entries: &[(String, usize)], top_left: [f32; 2]) {
    let entry_width = SIDE / ((SIDE / legend_entry_width(entries)) as usize).max(1) as f32;
    for (row, line) in legend_rows(entries).iter().enumerate() {
        for (column, (name, color)) in line.iter().enumerate() {
            let x = top_left[0] + column as f32 * entry_width;
            let y = top_left[1] + row as f32 * LINE;
            shapes.push(Shape::Rectangle {
                top_left: [x, y + 1.0],
                size: [9.0, 9.0],
                color: canvas::category_color(*color),
                stroke: 0,
            });
            shapes.push(text([x + 14.0, y], name.clone(), BLACK, Align::Left));
        }
    }
}

/// Width of the widest legend entry: colour square, gap and name.
fn legend_entry_width(entries: &[(String, usize)]) -> f32 {
    entries
        .iter()
        .map(|(name, _)| canvas::text_width(name) as f32 + 22.0)
        .fold(1.0, f32::max)
}

/// Returns a step of 1, 2 or 5 times a power of ten that gives about five ticks over `span`.
fn tick_step(span: f32) -> f32 {
    let raw = span / 5.0;
    let power = 10f32.powf(raw.log10().floor());
    let mantissa = raw / power;
    let nice = if mantissa < 1.5 {
        1.0
    } else if mantissa < 3.5 {
        2.0
    } else if mantissa < 7.5 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// Tick label with as many decimals as the step needs.
fn format_tick(value: f32, step: f32) -> String {
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let value = if value.abs() < step * 1e-3 {
        0.0
    } else {
        value
    };
    format!("{value:.decimals$}")
}

fn line(from: [f32; 2], to: [f32; 2], color: Rgb, width: u32) -> Shape {
    Shape::Line {
        from,
        to,
        color,
        width,
    }
}

fn text(at: [f32; 2], text: String, color: Rgb, align: Align) -> Shape {
    Shape::Text {
        at,
        text,
        color,
        align,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plot() -> LatentPlot {
        LatentPlot {
            title: "latent".into(),
            scores: vec![1.0, 0.0, 9.0, -1.0, 1.0, 9.0, 0.0, -2.0, 9.0],
            latent_size: 3,
            assignments: vec![0, 1, 2],
            classes: vec![2, 1, 0],
            cluster_names: vec!["c0".into(), "c1".into(), "c2".into()],
            cluster_colors: vec![2, 1, 0],
            class_names: vec!["zero".into(), "one".into(), "two".into()],
            directions: vec![[1.0, 0.0], [-1.0, 1.0], [0.0, -2.0]],
        }
    }

    #[test]
    fn tick_steps_are_round() {
        assert_eq!(tick_step(10.0), 2.0);
        assert_eq!(tick_step(1.0), 0.2);
        assert_eq!(tick_step(40.0), 10.0);
        assert!((tick_step(0.03) - 0.005).abs() < 1e-7);
        assert_eq!(format_tick(0.4, 0.2), "0.4");
        assert_eq!(format_tick(-1e-9, 0.2), "0.0");
        assert_eq!(format_tick(10.0, 5.0), "10");
    }

    #[test]
    fn window_has_equal_scale() {
        let window = Window::around([[0.0, 0.0], [4.0, 1.0]].into_iter());
        assert!((window.span - 4.64).abs() < 1e-5);
        let origin = [0.0, 0.0];
        let a = window.to_pixel([0.0, 0.0], origin);
        let b = window.to_pixel([1.0, 1.0], origin);
        assert!(
            ((b[0] - a[0]) + (b[1] - a[1])).abs() < 1e-3,
            "x right, y up, same scale"
        );
    }

    #[test]
    fn points_use_their_colors() {
        let plot = plot();
        let scene = plot.scene();
        let dots: Vec<&Shape> = scene
            .shapes
            .iter()
            .filter(|shape| matches!(shape, Shape::Dot { .. }))
            .collect();
        assert_eq!(dots.len(), 6, "three points on each panel");
        let colors: Vec<Rgb> = dots
            .iter()
            .map(|shape| match shape {
                Shape::Dot { color, .. } => *color,
                _ => unreachable!(),
            })
            .collect();
        // Cluster c is drawn in the colour of class 2 - c on the left, by class on the right.
        let expected: Vec<Rgb> = [2, 1, 0, 2, 1, 0].map(canvas::category_color).to_vec();
        assert_eq!(colors, expected);
    }

    #[test]
    fn legend_wraps_ten_classes() {
        let names = crate::data::Preset::FashionMnist.cluster_names();
        let entries: Vec<(String, usize)> = names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.to_string(), i))
            .collect();
        let rows = legend_rows(&entries);
        // "T-shirt/top" is 11 characters: 66 + 22 pixels an entry, 4 entries in 360 pixels.
        assert_eq!(rows.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 4, 2]);

        let mut plot = plot();
        plot.class_names = names.iter().map(|name| name.to_string()).collect();
        let scene = plot.scene();
        assert_eq!(
            scene.height as f32,
            (TOP + SIDE + BELOW + 3.0 * LINE + 8.0).ceil()
        );
    }

    #[test]
    fn scene_draws_one_ring_per_direction() {
        let scene = plot().scene();
        let rings = scene
            .shapes
            .iter()
            .filter(|s| matches!(s, Shape::Ring { .. }))
            .count();
        assert_eq!(rings, 6);
        assert_eq!(scene.width, (2.0 * (LEFT + SIDE + RIGHT)) as u32);
    }
}
