//! Validation of an export against the Burn model it came from: the ONNX files run with tract,
//! and the fixed-point model runs on the int8 engine, on the same test images.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Result;
use firmware::membership::cosine_distance;
use firmware::{Assignment, Engine};
use serde::{Deserialize, Serialize};

use crate::data::Split;
use crate::evaluate;
use crate::export::{DECODER_FILE, ENCODER_FILE, MODEL_FILE, ModelFile};
use crate::ksc;
use crate::metrics;
use crate::tract_runner::{self, OnnxModel};
use crate::trained::TrainedModel;

/// File name of the validation results in an export folder.
pub const VALIDATION_FILE: &str = "validation.json";

/// Images per tract and Burn batch.
const BATCH: usize = 256;

/// Settings of [`validate`].
#[derive(Clone, Debug, Default)]
pub struct ValidateOptions {
    /// Data folder; `None` uses the run's own.
    pub data_dir: Option<PathBuf>,
    /// Validate on the first this many test images only (all when `None`).
    pub limit: Option<usize>,
}

/// Measured agreement of the exports with the Burn model; written as `validation.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    /// Test images compared.
    pub images: usize,
    /// Largest `|score|` difference between `encoder.onnx` (tract) and Burn.
    pub onnx_max_abs_diff_scores: f64,
    /// Largest membership difference between `encoder.onnx` and the Burn scores' memberships.
    pub onnx_max_abs_diff_membership: f64,
    /// Largest pixel difference between `decoder.onnx` (tract) and Burn on the Burn scores.
    pub onnx_max_abs_diff_image: f64,
    /// Fraction of images whose `encoder.onnx` cluster equals the Burn cluster.
    pub onnx_cluster_agreement: f64,
    /// Fraction of images whose fixed-point cluster equals the Burn (float) cluster.
    pub fixed_point_cluster_agreement: f64,
    /// Mean absolute difference of the top membership, fixed point against float.
    pub fixed_point_strength_mae: f64,
    /// Clustering accuracy of the fixed-point clusters on the test labels.
    pub fixed_point_test_acc: f64,
    /// Clustering accuracy of the Burn (float) clusters on the test labels.
    pub float_test_acc: f64,
    /// Fraction of images the fixed-point engine reports as uncertain.
    pub fixed_point_uncertain_fraction: f64,
    /// Size of `model.gksc` in bytes.
    pub model_file_bytes: usize,
}

/// Limits a [`Validation`] must meet.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    pub max_score_diff: f64,
    pub max_image_diff: f64,
    pub min_onnx_agreement: f64,
    pub min_fixed_point_agreement: f64,
    pub max_strength_mae: f64,
    /// Largest drop of the fixed-point test accuracy below the float one, as a fraction
    /// (0.005 is half a percentage point).
    pub max_acc_drop: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            max_score_diff: 1e-4,
            max_image_diff: 1e-4,
            min_onnx_agreement: 1.0,
            min_fixed_point_agreement: 0.995,
            max_strength_mae: 0.02,
            max_acc_drop: 0.005,
        }
    }
}

/// One row of the validation table.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    pub name: &'static str,
    pub value: f64,
    pub limit: f64,
    /// Whether `value` must be at most `limit` (else at least).
    pub upper_bound: bool,
}

impl Check {
    pub fn passed(&self) -> bool {
        if self.upper_bound {
            self.value <= self.limit
        } else {
            self.value >= self.limit
        }
    }
}

impl Validation {
    /// Compares every measurement with its threshold, in table order.
    pub fn checks(&self, thresholds: &Thresholds) -> Vec<Check> {
        let check = |name, value, limit, upper_bound| Check {
            name,
            value,
            limit,
            upper_bound,
        };
        let t = thresholds;
        vec![
            check(
                "onnx_max_abs_diff_scores",
                self.onnx_max_abs_diff_scores,
                t.max_score_diff,
                true,
            ),
            check(
                "onnx_max_abs_diff_image",
                self.onnx_max_abs_diff_image,
                t.max_image_diff,
                true,
            ),
            check(
                "onnx_cluster_agreement",
                self.onnx_cluster_agreement,
                t.min_onnx_agreement,
                false,
            ),
            check(
                "fixed_point_cluster_agreement",
                self.fixed_point_cluster_agreement,
                t.min_fixed_point_agreement,
                false,
            ),
            check(
                "fixed_point_strength_mae",
                self.fixed_point_strength_mae,
                t.max_strength_mae,
                true,
            ),
            check(
                "fixed_point_test_acc",
                self.fixed_point_test_acc,
                self.float_test_acc - t.max_acc_drop,
                false,
            ),
        ]
    }
}

/// Formats small differences in scientific notation and fractions with four decimals.
fn number(value: f64) -> String {
    if value != 0.0 && value.abs() < 1e-2 {
        format!("{value:.2e}")
    } else {
        format!("{value:.4}")
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let relation = if self.upper_bound { "<=" } else { ">=" };
        let target = format!("{relation} {}", number(self.limit));
        let result = if self.passed() { "ok" } else { "FAILED" };
        let value = number(self.value);
        write!(f, "{:<30} {value:>10} {target:>12}  {result}", self.name)
    }
}

/// Runs the exports in `export_dir` and the Burn model on the test split and compares them.
pub fn validate(
    trained: &TrainedModel,
    export_dir: &Path,
    options: &ValidateOptions,
) -> Result<Validation> {
    anyhow::ensure!(
        export_dir.is_dir(),
        "export folder {} not found; create it with `cargo run --release -p host -- export \
         --run <run folder>`",
        export_dir.display()
    );
    let mut test = trained.dataset(options.data_dir.as_deref(), Split::Test)?;
    if let Some(limit) = options.limit {
        test = test.take_first(limit);
    }
    anyhow::ensure!(!test.is_empty(), "the test split has no images");
    let n = test.len();
    let (s, k) = (trained.config.latent_size, trained.config.clusters);

    let scores = trained.scores(&test);
    let codes: Vec<f32> = ksc::simplex_codes(k).into_iter().flatten().collect();
    let cluster_scores: Vec<f32> = scores
        .chunks(s)
        .flat_map(|row| row[..k - 1].to_vec())
        .collect();
    let distances = metrics::cosine_distances(&cluster_scores, &codes, k);
    let float_clusters = metrics::hard_assignments(&distances, k);
    let float_memberships = metrics::memberships(&distances, k);

    let encoder = OnnxModel::load(&existing(export_dir, ENCODER_FILE)?)?;
    let onnx = tract_runner::encode(&encoder, &test.images, BATCH)?;
    let onnx_agree = onnx
        .cluster
        .iter()
        .zip(&float_clusters)
        .filter(|&(&a, &b)| usize::try_from(a) == Ok(b))
        .count();

    let decoder = OnnxModel::load(&existing(export_dir, DECODER_FILE)?)?;
    let mut image_diff = 0.0f64;
    for chunk in scores.chunks(BATCH * s) {
        let expected = trained.decode(chunk);
        let actual = tract_runner::decode(&decoder, chunk, s, BATCH)?;
        image_diff = image_diff.max(max_abs_diff(&actual, &expected));
    }

    let model_file = ModelFile::read(&existing(export_dir, MODEL_FILE)?)?;
    let fixed = fixed_point_assignments(&model_file, &test.images)?;
    let threshold = model_file.model().uncertain_threshold();
    let mut agree = 0;
    let mut strength_error = 0.0f64;
    for (assignment, row) in fixed.iter().zip(cluster_scores.chunks(k - 1)) {
        // The float assignment with the firmware's own f32 distance and membership code.
        let float_distances: Vec<f32> = codes
            .chunks(k - 1)
            .map(|code| cosine_distance(row, code.iter().copied()))
            .collect();
        let float = Assignment::from_distances(&float_distances, threshold);
        agree += usize::from(assignment.cluster == float.cluster);
        strength_error += f64::from((assignment.strength() - float.strength()).abs());
    }

    let labels = evaluate::class_indices(&test, &trained.config);
    let fixed_clusters: Vec<usize> = fixed.iter().map(|a| a.cluster).collect();
    let uncertain = fixed.iter().filter(|a| a.uncertain).count();
    Ok(Validation {
        images: n,
        onnx_max_abs_diff_scores: max_abs_diff(&onnx.scores, &scores),
        onnx_max_abs_diff_membership: max_abs_diff(&onnx.membership, &float_memberships),
        onnx_max_abs_diff_image: image_diff,
        onnx_cluster_agreement: onnx_agree as f64 / n as f64,
        fixed_point_cluster_agreement: agree as f64 / n as f64,
        fixed_point_strength_mae: strength_error / n as f64,
        fixed_point_test_acc: metrics::accuracy(&fixed_clusters, &labels).accuracy,
        float_test_acc: metrics::accuracy(&float_clusters, &labels).accuracy,
        fixed_point_uncertain_fraction: uncertain as f64 / n as f64,
        model_file_bytes: model_file.bytes.len(),
    })
}

/// Runs the int8 engine of `model_file` on `images` (`[n, 28 * 28]` pixels in `[0, 1]`).
pub fn fixed_point_assignments(model_file: &ModelFile, images: &[f32]) -> Result<Vec<Assignment>> {
    let engine = Engine::new(model_file.model());
    let mut scratch = vec![0i8; engine.scratch_len()];
    let input_len = engine.model().input_len();
    images
        .chunks(input_len)
        .map(|image| {
            // The model reads the original bytes: pixel p stands for p / 255.
            let pixels: Vec<u8> = image.iter().map(|&p| (p * 255.0).round() as u8).collect();
            engine
                .assign(&pixels, &mut scratch)
                .map_err(|error| anyhow::anyhow!("fixed-point engine failed: {error}"))
        })
        .collect()
}

/// Path of `name` in `dir`, or an error naming the export command when it is missing.
fn existing(dir: &Path, name: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    anyhow::ensure!(
        path.is_file(),
        "{} not found; export the run with `cargo run --release -p host -- export --run <run \
         folder>`",
        path.display()
    );
    Ok(path)
}

/// Largest `|a - b|`; infinite when the lengths differ or a value is NaN, so that such a
/// mismatch fails every threshold.
fn max_abs_diff(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    let diff = |(&x, &y): (&f32, &f32)| {
        let diff = f64::from((x - y).abs());
        if diff.is_nan() { f64::INFINITY } else { diff }
    };
    a.iter().zip(b).map(diff).fold(0.0, f64::max)
}
