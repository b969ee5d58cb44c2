//! End-to-end tests of `host traverse` and `host plot` on a small model trained on real
//! MNIST012 images.
//!
//! They need the data fetched by `scripts/fetch-data.sh`. Without it they are skipped with a
//! message, except under CI (the `CI` environment variable is set), where they fail.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

mod common;

use common::{data_dir, host, text};

use host::latent::{LATENT_FILE, LatentSummary};
use host::pictures::traversal;
use host::trained::TrainedModel;

/// Layout of the traversal grid: margin, text line and gap between tiles, in pixels.
const MARGIN: u32 = 8;
const LINE: u32 = 13;
const GAP: u32 = 4;
/// Frame colour of the marked column.
const MARK: [u8; 3] = [230, 40, 30];

/// Folder of a small model trained once for all tests of this file, or `None` without data.
fn trained_run() -> Option<&'static Path> {
    static RUN: OnceLock<Option<PathBuf>> = OnceLock::new();
    RUN.get_or_init(|| {
        let data = data_dir()?;
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pictures-run");
        let _ = fs::remove_dir_all(&out);
        let output = host(&[
            "train",
            "--quiet",
            "--data-dir",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--train-limit",
            "4000",
            "--test-limit",
            "500",
            "--epochs",
            "4",
            "--warmup-epochs",
            "2",
            // Batches of 128 give only 31 steps an epoch here, and such a run once ended with
            // a 60-image cluster whose direction decoded to nothing recognisable.
            "--batch-size",
            "32",
        ]);
        assert!(
            output.status.success(),
            "training failed: {}",
            text(&output)
        );
        Some(out)
    })
    .as_deref()
}

/// Creates an empty folder `name` under the target directory, removing an older one.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Width, height and RGB pixels of a PNG file.
fn read_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let file = fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb, "{}", path.display());
    pixels.truncate(info.buffer_size());
    (info.width, info.height, pixels)
}

fn count_color(pixels: &[u8], color: [u8; 3]) -> usize {
    pixels
        .chunks_exact(3)
        .filter(|pixel| *pixel == color)
        .count()
}

/// Height of a grid with `rows` rows of tiles `scale` times 28 pixels high.
fn grid_height(rows: u32, scale: u32) -> u32 {
    MARGIN + 2 * LINE + rows * (28 * scale + GAP) + LINE + MARGIN
}

#[test]
fn traversal_png_has_grid_size() {
    let Some(run) = trained_run() else { return };
    let out = scratch("traversal").join("clusters.png");
    let output = host(&[
        "traverse",
        "--run",
        run.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--steps",
        "8",
        "--scale",
        "2",
    ]);
    assert!(output.status.success(), "{}", text(&output));

    let (width, height, pixels) = read_png(&out);
    assert_eq!(height, grid_height(3, 2), "three cluster rows");
    // Labels take at most 20 characters of 6 pixels.
    let grid_width = 8 * (56 + GAP);
    assert!(width >= grid_width + 3 * MARGIN, "width {width}");
    assert!(width <= grid_width + 3 * MARGIN + 120, "width {width}");
    // Three framed tiles, each with 2 pixel thick sides around 56 + 4 pixels.
    let framed = count_color(&pixels, MARK);
    assert!(framed >= 3 * 4 * 2 * 56, "only {framed} frame pixels");
    assert!(
        run.join(LATENT_FILE).exists(),
        "traverse writes the latent summary"
    );
}

#[test]
fn dims_traversal_has_one_row_per_dim() {
    let Some(run) = trained_run() else { return };
    let out = scratch("traversal-dims").join("dims.png");
    let output = host(&[
        "traverse",
        "--run",
        run.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--cluster",
        "1",
        "--along-dims",
        "--steps",
        "7",
        "--scale",
        "1",
    ]);
    assert!(output.status.success(), "{}", text(&output));

    let (_, height, pixels) = read_png(&out);
    // s = 10 and k = 3: dims 3 to 10.
    assert_eq!(height, grid_height(8, 1));
    assert!(
        count_color(&pixels, MARK) > 0,
        "the centroid column is framed"
    );
}

#[test]
fn traverse_rejects_invalid_arguments() {
    let Some(run) = trained_run() else { return };
    let run = run.to_str().unwrap();
    let cases: [(&[&str], &str); 7] = [
        (
            &["--cluster", "3", "--along-dims"],
            "--cluster 3 does not exist",
        ),
        (
            &["--extrapolate", "0.5"],
            "--extrapolate 0.5 is outside 1..=10",
        ),
        (
            &["--extrapolate", "inf"],
            "--extrapolate inf is outside 1..=10",
        ),
        (&["--steps", "1"], "--steps 1 is outside 2..=64"),
        (&["--along-dims"], "--cluster"),
        (&["--cluster", "1"], "--along-dims"),
        (
            &["--cluster", "0", "--along-dims", "--range", "NaN"],
            "--range NaN is outside",
        ),
    ];
    for (extra, message) in cases {
        let mut args = vec!["traverse", "--run", run];
        args.extend_from_slice(extra);
        let output = host(&args);
        assert!(!output.status.success(), "{extra:?} succeeded");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{extra:?}: {stderr}");
    }
}

#[test]
fn plot_writes_png_and_svg() {
    let Some(run) = trained_run() else { return };
    let dir = scratch("plot");
    let (png_path, svg_path) = (dir.join("latent.png"), dir.join("latent.svg"));
    let output = host(&[
        "plot",
        "--run",
        run.to_str().unwrap(),
        "--out",
        png_path.to_str().unwrap(),
        "--out",
        svg_path.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output));

    // Two panels of 48 + 360 + 16 pixels; 44 + 360 + 34 pixels high and one legend line.
    let (width, height, _) = read_png(&png_path);
    assert_eq!((width, height), (848, 460));
    let svg = fs::read_to_string(&svg_path).unwrap();
    assert!(svg.contains("width=\"848\" height=\"460\""), "SVG size");
    // 500 test points on each panel.
    assert_eq!(
        svg.matches("<circle").count(),
        2 * 500 + 2 * 3,
        "points and rings"
    );
}

#[test]
fn plot_rejects_unknown_extension() {
    let Some(run) = trained_run() else { return };
    let output = host(&[
        "plot",
        "--run",
        run.to_str().unwrap(),
        "--out",
        "latent.jpg",
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("must end in .png or .svg"), "{stderr}");
}

/// Decoded images along each cluster direction, from half the farthest point to 1.5 times it,
/// go back to that cluster through the encoder.
#[test]
fn traversals_reencode_to_their_cluster() {
    let Some(run) = trained_run() else { return };
    let trained = TrainedModel::load(run).unwrap();
    let summary = traversal::summarize(&trained, run, None).unwrap();
    assert_eq!(summary.training_images, 4000);

    let (mut agreeing, mut total) = (0, 0);
    for c in 0..summary.clusters {
        let path = summary.cluster_traversal(c, 21, 1.5);
        let (cluster_agreeing, count) = traversal::reassigned_to_cluster(&trained, &path, c, 0.5);
        eprintln!("cluster {c}: {cluster_agreeing} of {count} decoded images assigned back");
        assert!(
            count >= 13,
            "cluster {c}: only {count} images from t = 0.5 on"
        );
        agreeing += cluster_agreeing;
        total += count;
    }
    let fraction = agreeing as f64 / total as f64;
    eprintln!("reassigned to their cluster: {agreeing} of {total} = {fraction:.3}");
    assert!(
        fraction >= 0.9,
        "only {fraction:.3} of the traversal images keep their cluster"
    );
}

/// The summary written by `traverse` matches a fresh computation and survives a round trip.
#[test]
fn latent_summary_matches_checkpoint() {
    let Some(run) = trained_run() else { return };
    let output = host(&[
        "traverse",
        "--run",
        run.to_str().unwrap(),
        "--out",
        "/dev/null",
    ]);
    assert!(output.status.success(), "{}", text(&output));

    let stored = LatentSummary::read(&run.join(LATENT_FILE)).unwrap();
    let trained = TrainedModel::load(run).unwrap();
    let fresh = traversal::summarize(&trained, run, None).unwrap();
    assert_eq!(stored.checkpoint_digest, fresh.checkpoint_digest);
    assert_eq!(stored.cluster_sizes, fresh.cluster_sizes);
    assert_eq!((stored.clusters, stored.latent_size), (3, 10));
    for (a, b) in stored
        .farthest_projection
        .iter()
        .zip(&fresh.farthest_projection)
    {
        assert!(
            (a - b).abs() <= 1e-4 * b.abs().max(1.0),
            "farthest {a} vs {b}"
        );
    }
    for c in 0..3 {
        assert!(
            stored.farthest_projection[c] > 0.0,
            "cluster {c} points away from its code"
        );
        assert!(stored.cluster_sizes[c] > 0);
    }
}

/// `decoder.onnx` run by tract draws the same grid as the Burn decoder, from the export folder
/// alone, whose `latent.json` equals the one computed for the run.
#[test]
fn onnx_traversal_matches_burn() {
    let Some(run) = trained_run() else { return };
    let dir = scratch("traversal-onnx");
    let export = dir.join("export");
    let output = host(&[
        "export",
        "--run",
        run.to_str().unwrap(),
        "--out",
        export.to_str().unwrap(),
        "--calibration-images",
        "100",
    ]);
    assert!(output.status.success(), "{}", text(&output));

    let burn_png = dir.join("burn.png");
    let output = host(&[
        "traverse",
        "--run",
        run.to_str().unwrap(),
        "--out",
        burn_png.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output));

    // Export wrote the same summary that traverse computed for the run.
    let exported = fs::read_to_string(export.join(LATENT_FILE)).unwrap();
    let computed = fs::read_to_string(run.join(LATENT_FILE)).unwrap();
    assert_eq!(
        exported, computed,
        "export and traverse summarise the run differently"
    );

    // Only the export folder: no run folder, no checkpoint.
    let onnx = export.join("decoder.onnx");
    let output = host(&["traverse", "--onnx", onnx.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    let onnx_png = export.join("traversal.png");

    let (burn_width, burn_height, burn_pixels) = read_png(&burn_png);
    let (onnx_width, onnx_height, onnx_pixels) = read_png(&onnx_png);
    assert_eq!((onnx_width, onnx_height), (burn_width, burn_height));
    // tract and Burn may round a grey level differently; allow 1 of 255.
    let max_difference = burn_pixels
        .iter()
        .zip(&onnx_pixels)
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap();
    eprintln!("largest difference between the tract and Burn grids: {max_difference} of 255");
    assert!(
        max_difference <= 1,
        "pixels differ by up to {max_difference} grey levels"
    );

    // The encoder in place of the decoder is named as the mistake, not left to tract.
    let encoder = export.join("encoder.onnx");
    let latent = export.join(LATENT_FILE);
    let output = host(&[
        "traverse",
        "--onnx",
        encoder.to_str().unwrap(),
        "--latent",
        latent.to_str().unwrap(),
    ]);
    assert!(!output.status.success(), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("takes images, not score vectors"),
        "{stderr}"
    );
}

#[test]
fn onnx_traversal_needs_summary() {
    let dir = scratch("traversal-onnx-missing");
    let onnx = dir.join("decoder.onnx");
    fs::write(&onnx, b"not used").unwrap();
    let output = host(&["traverse", "--onnx", onnx.to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no latent summary found"), "{stderr}");
}
