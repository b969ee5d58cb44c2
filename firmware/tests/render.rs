//! Golden pictures of the result screen.
//!
//! Each test draws a screen into a [`Framebuffer`] and compares its ASCII art with a file in
//! `tests/snapshots/`. After an intended layout change, regenerate the files with
//!
//! ```text
//! GENKSC_BLESS=1 cargo test -p firmware --features render --test render
//! ```
//!
//! and review the picture diff before committing it.

use std::fmt::Write as _;
use std::path::PathBuf;

use firmware::Assignment;
use firmware::render::{Framebuffer, SCREEN_HEIGHT, SCREEN_WIDTH, draw_result};
use model_format::{Model, ModelSpec, ProjectionRow, ProjectionSpec};

const SIDE: usize = 28;

/// Grey level of a ring of radius 9 around the image centre, fading over 4 pixels.
fn ring(x: usize, y: usize) -> u8 {
    let dx = x as f32 - 13.5;
    let dy = y as f32 - 13.5;
    let distance = ((dx * dx + dy * dy).sqrt() - 9.0).abs();
    (255.0 * (1.0 - distance / 4.0)).clamp(0.0, 255.0) as u8
}

/// A vertical stroke in columns 12 to 15, with a grey ramp from top to bottom.
fn stroke(x: usize, y: usize) -> u8 {
    if (12..16).contains(&x) && (3..25).contains(&y) {
        (64 + y * 7) as u8
    } else {
        0
    }
}

fn picture(pixel: fn(usize, usize) -> u8) -> Vec<u8> {
    (0..SIDE * SIDE)
        .map(|i| pixel(i % SIDE, i / SIDE))
        .collect()
}

/// A model without layers (the features are the pixels) and with three named clusters and
/// their prototypes. The render reads only the names, prototypes and input shape.
fn model_bytes() -> Vec<u8> {
    let half_sqrt3 = 3f32.sqrt() / 2.0;
    let mut prototypes = picture(ring);
    prototypes.extend(picture(stroke));
    prototypes.extend(vec![128; SIDE * SIDE]);
    let spec = ModelSpec {
        input_shape: [1, SIDE as u16, SIDE as u16],
        input_scale: 1.0 / 255.0,
        uncertain_threshold: 0.5,
        layers: Vec::new(),
        projection: ProjectionSpec {
            rows: vec![
                ProjectionRow {
                    bias: 0,
                    score_scale: 0.001,
                };
                2
            ],
            weights: vec![1; 2 * SIDE * SIDE],
        },
        cluster_codes: vec![0.0, 1.0, -half_sqrt3, -0.5, half_sqrt3, -0.5],
        cluster_names: vec![
            "ring".to_string(),
            "T-shirt/top, long sleeves".to_string(),
            "grey".to_string(),
        ],
        prototypes,
    };
    spec.to_bytes().expect("the test model is valid")
}

fn snapshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.txt"))
}

/// Compares `screen` with the snapshot `name`, or rewrites the snapshot when `GENKSC_BLESS` is
/// set. A mismatch prints both pictures with the differing rows marked.
fn assert_snapshot(name: &str, screen: &Framebuffer) {
    let actual = screen.to_string();
    let path = snapshot_path(name);
    if std::env::var_os("GENKSC_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read snapshot {}: {error}; create it with GENKSC_BLESS=1",
            path.display()
        )
    });
    if actual == expected {
        return;
    }

    let mut report = String::new();
    let rows = actual.lines().zip(expected.lines());
    for (y, (actual_row, expected_row)) in rows.enumerate() {
        let marker = if actual_row == expected_row { ' ' } else { '>' };
        writeln!(report, "{marker}{y:2} actual   {actual_row}").unwrap();
        if actual_row != expected_row {
            writeln!(report, "{marker}{y:2} expected {expected_row}").unwrap();
        }
    }
    panic!(
        "screen differs from {} (rows marked '>'); if the change is intended, rerun with \
         GENKSC_BLESS=1 and review the diff\n{report}",
        path.display()
    );
}

fn render(image: &[u8], distances: &[f32]) -> Framebuffer {
    let bytes = model_bytes();
    let model = Model::parse(&bytes).unwrap();
    let assignment = Assignment::from_distances(distances, model.uncertain_threshold());
    let mut screen = Framebuffer::new();
    draw_result(&mut screen, &model, image, &assignment).unwrap();
    screen
}

#[test]
fn certain_assignment_screen() {
    let screen = render(&picture(ring), &[0.05, 1.2, 1.6]);
    assert_snapshot("certain", &screen);
}

#[test]
fn uncertain_assignment_screen() {
    let screen = render(&picture(stroke), &[0.9, 0.8, 1.0]);
    assert_snapshot("uncertain", &screen);
}

#[test]
fn short_image_reads_as_black() {
    let screen = render(&[255; 10], &[0.05, 1.2, 1.6]);
    // The first ten pixels of the top row are white, at 2x scale: screen columns 1 to 20.
    assert!(screen.pixel(1, 4));
    assert!(screen.pixel(20, 5));
    assert!(!screen.pixel(21, 4));
    assert!(!screen.pixel(1, 6));
}

#[test]
fn framebuffer_ascii_has_one_line_per_row() {
    let text = Framebuffer::new().to_string();
    assert_eq!(text.lines().count(), SCREEN_HEIGHT as usize);
    assert!(text.lines().all(|line| line.len() == SCREEN_WIDTH as usize));
    assert!(text.lines().all(|line| line.chars().all(|c| c == '.')));
}
