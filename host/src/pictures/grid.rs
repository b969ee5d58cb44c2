//! Labelled grid of decoded images: one row per traversal, one column per step.

use super::canvas::{self, Align, BLACK, CHAR_HEIGHT, Canvas, DARK_GRAY, MARK, WHITE};

/// Side of a decoded image in pixels (28 x 28 for MNIST and Fashion-MNIST).
pub const IMAGE_SIDE: usize = 28;

/// Pixels between tiles; the frame of a marked tile is drawn in this gap.
const GAP: u32 = 4;
/// Thickness of the frame around a marked tile.
const FRAME: u32 = 2;
const MARGIN: u32 = 8;
/// Height of one text line, font plus spacing.
const LINE: u32 = CHAR_HEIGHT + 3;

/// One row of the grid.
#[derive(Clone, Debug, PartialEq)]
pub struct GridRow {
    /// Text to the left of the row, one entry per line.
    pub label: Vec<String>,
    /// Decoded images, `[columns, IMAGE_SIDE * IMAGE_SIDE]` row-major, values in `[0, 1]`.
    pub images: Vec<f32>,
    /// Column framed in red.
    pub marked: Option<usize>,
}

/// A titled grid whose rows all have `column_labels.len()` images.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    pub title: String,
    pub column_labels: Vec<String>,
    pub rows: Vec<GridRow>,
    /// Line under the grid that explains the red frames.
    pub legend: String,
}

impl Grid {
    /// Draws the grid with every image pixel enlarged to `scale * scale`.
    ///
    /// # Panics
    /// When a row's image count differs from the number of column labels.
    pub fn render(&self, scale: u32) -> Canvas {
        let columns = self.column_labels.len();
        let pixels_per_image = IMAGE_SIDE * IMAGE_SIDE;
        for (index, row) in self.rows.iter().enumerate() {
            assert_eq!(
                row.images.len(),
                columns * pixels_per_image,
                "row {index} must contain {columns} images of {pixels_per_image} pixels"
            );
        }

        let tile = IMAGE_SIDE as u32 * scale;
        let label_lines = self
            .rows
            .iter()
            .map(|row| row.label.len())
            .max()
            .unwrap_or(0);
        let label_width = self
            .rows
            .iter()
            .flat_map(|row| row.label.iter())
            .map(|line| canvas::text_width(line))
            .max()
            .unwrap_or(0);
        // Rows grow past the tile when their label has more lines than fit beside it.
        let row_height = tile.max(label_lines as u32 * LINE) + GAP;
        let grid_left = MARGIN + label_width + MARGIN;
        let grid_width = columns as u32 * (tile + GAP);
        let header_top = MARGIN + LINE;
        let grid_top = header_top + LINE;
        let grid_height = self.rows.len() as u32 * row_height;
        let title_width = canvas::text_width(&self.title).max(canvas::text_width(&self.legend));
        let width = (grid_left + grid_width + MARGIN).max(MARGIN * 2 + title_width);
        let height = grid_top + grid_height + LINE + MARGIN;

        let mut canvas = Canvas::new(width, height, WHITE);
        canvas.text(
            MARGIN as i32,
            MARGIN as i32,
            &self.title,
            BLACK,
            Align::Left,
        );
        for (column, label) in self.column_labels.iter().enumerate() {
            let center = grid_left + column as u32 * (tile + GAP) + GAP / 2 + tile / 2;
            canvas.text(
                center as i32,
                header_top as i32,
                label,
                DARK_GRAY,
                Align::Center,
            );
        }

        for (index, row) in self.rows.iter().enumerate() {
            let top = grid_top + index as u32 * row_height + GAP / 2;
            for (line, text) in row.label.iter().enumerate() {
                let y = top + line as u32 * LINE;
                canvas.text(MARGIN as i32, y as i32, text, BLACK, Align::Left);
            }
            let images = row.images.chunks_exact(pixels_per_image);
            for (column, image) in images.enumerate() {
                let left = grid_left + column as u32 * (tile + GAP) + GAP / 2;
                canvas.draw_gray(left as i32, top as i32, image, IMAGE_SIDE, scale);
                if row.marked == Some(column) {
                    let (x, y) = (left - FRAME, top - FRAME);
                    canvas.rectangle(x as i32, y as i32, [tile + 2 * FRAME; 2], MARK, FRAME);
                }
            }
        }

        let legend_top = grid_top + grid_height + 2;
        canvas.text(
            MARGIN as i32,
            legend_top as i32,
            &self.legend,
            MARK,
            Align::Left,
        );
        canvas
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(columns: usize, marked: Option<usize>) -> Grid {
        let pixels = IMAGE_SIDE * IMAGE_SIDE;
        Grid {
            title: "test grid".into(),
            column_labels: (0..columns).map(|c| c.to_string()).collect(),
            rows: vec![
                GridRow {
                    label: vec!["row 0".into()],
                    images: vec![1.0; columns * pixels],
                    marked,
                },
                GridRow {
                    label: vec!["row 1".into(), "second".into()],
                    images: vec![0.0; columns * pixels],
                    marked: None,
                },
            ],
            legend: "red frame: marked".into(),
        }
    }

    #[test]
    fn grid_size_follows_layout() {
        let canvas = grid(5, None).render(2);
        let label_width = canvas::text_width("second");
        let tile = 56;
        assert_eq!(
            canvas.width(),
            MARGIN + label_width + MARGIN + 5 * (tile + GAP) + MARGIN
        );
        assert_eq!(
            canvas.height(),
            MARGIN + 2 * LINE + 2 * (tile + GAP) + LINE + MARGIN
        );
    }

    #[test]
    fn marked_tile_has_red_frame() {
        let canvas = grid(3, Some(1)).render(1);
        let grid_left = MARGIN + canvas::text_width("second") + MARGIN;
        let grid_top = MARGIN + 2 * LINE;
        let tile = IMAGE_SIDE as u32;
        let left = grid_left + (tile + GAP) + GAP / 2;
        let top = grid_top + GAP / 2;
        assert_eq!(canvas.pixel(left - 1, top + 5), MARK);
        assert_eq!(canvas.pixel(left + tile, top + 5), MARK);
        assert_eq!(canvas.pixel(left + 5, top + 5), WHITE, "tile pixel");
        // The unmarked neighbour has no frame.
        assert_eq!(canvas.pixel(left - (tile + GAP) - 1, top + 5), WHITE);
    }

    #[test]
    #[should_panic(expected = "row 0 must contain 4 images")]
    fn render_rejects_short_row() {
        let mut grid = grid(3, None);
        grid.column_labels.push("3".into());
        grid.render(1);
    }
}
