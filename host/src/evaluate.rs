//! Out-of-sample scores, cluster assignments and test metrics of a trained model.

use burn::prelude::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::data::Dataset;
use crate::ksc;
use crate::linalg;
use crate::metrics;
use crate::model::Encoder;

/// Images per forward pass during evaluation.
const EVAL_BATCH: usize = 512;

/// Clustering quality on the test split.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TestMetrics {
    pub acc: f64,
    pub nmi: f64,
    pub ari: f64,
    /// Average membership strength (soft kernel spectral clustering).
    pub ams: f64,
    /// Smallest cluster size over the largest.
    pub balance: f64,
}

/// Scores and assignments of every image of a dataset.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// Centred scores `U^T (phi(x) - mean)`, `[n, s]` row-major.
    pub scores: Vec<f32>,
    /// Soft-KSC memberships, `[n, k]` row-major.
    pub memberships: Vec<f32>,
    pub assignments: Vec<usize>,
    pub metrics: TestMetrics,
}

/// Stacks the images at `indices` into a `[n, 1, 28, 28]` batch on `device`.
pub fn image_batch(dataset: &Dataset, indices: &[usize], device: &Device) -> Tensor<4> {
    let size = dataset.image_size();
    let mut pixels = Vec::with_capacity(indices.len() * size);
    for &index in indices {
        pixels.extend_from_slice(dataset.image(index));
    }
    Tensor::from_data(
        TensorData::new(pixels, [indices.len(), 1, dataset.rows, dataset.cols]),
        device,
    )
}

/// Features `phi(x)` of every image, `[n, d_f]` row-major, computed without autodiff.
pub fn features(encoder: &Encoder, dataset: &Dataset, device: &Device) -> Vec<f32> {
    let indices: Vec<usize> = (0..dataset.len()).collect();
    let mut features = Vec::new();
    for chunk in indices.chunks(EVAL_BATCH) {
        let batch = encoder.forward(image_batch(dataset, chunk, device));
        features.extend(
            batch
                .into_data()
                .try_to_vec::<f32>()
                .expect("features are f32"),
        );
    }
    features
}

/// Weighted mean of `n` feature vectors (`[n, d_f]` row-major) with full-data degrees
/// `D_ii = phi_i^T sum_j phi_j`, clamped to `floor_fraction` of their mean absolute value as in
/// training, and the inverse degrees. The mean is
/// kept with the model so that out-of-sample scores are centred the same way for every input.
pub fn weighted_statistics(
    features: &[f32],
    feature_size: usize,
    floor_fraction: f64,
) -> (Vec<f32>, Vec<f64>) {
    let rows: Vec<&[f32]> = features.chunks(feature_size).collect();
    let mut total = vec![0.0f64; feature_size];
    for row in &rows {
        for (sum, value) in total.iter_mut().zip(row.iter()) {
            *sum += *value as f64;
        }
    }
    let degrees: Vec<f64> = rows
        .iter()
        .map(|row| {
            row.iter()
                .zip(&total)
                .map(|(value, sum)| *value as f64 * sum)
                .sum()
        })
        .collect();
    let mean_absolute = degrees.iter().map(|d| d.abs()).sum::<f64>() / rows.len().max(1) as f64;
    let floor = (mean_absolute * floor_fraction).max(f32::MIN_POSITIVE as f64);
    let inverse: Vec<f64> = degrees.iter().map(|d| 1.0 / d.max(floor)).collect();

    let weight_sum: f64 = inverse.iter().sum();
    let mut mean = vec![0.0f64; feature_size];
    for (row, weight) in rows.iter().zip(&inverse) {
        for (sum, value) in mean.iter_mut().zip(row.iter()) {
            *sum += weight * *value as f64;
        }
    }
    let mean = mean.iter().map(|sum| (sum / weight_sum) as f32).collect();
    (mean, inverse)
}

/// Scores `U^T (phi_i - mean)` of `[n, d_f]` features, `[n, s]` row-major, in `f32`.
pub fn project(features: &[f32], mean: &[f32], projection: &[f32], latent_size: usize) -> Vec<f32> {
    let feature_size = mean.len();
    let mut scores = Vec::with_capacity(features.len() / feature_size * latent_size);
    for row in features.chunks(feature_size) {
        let mut score = vec![0.0f32; latent_size];
        for (f, (value, center)) in row.iter().zip(mean).enumerate() {
            let centered = value - center;
            for (j, entry) in score.iter_mut().enumerate() {
                *entry += centered * projection[f * latent_size + j];
            }
        }
        scores.extend(score);
    }
    scores
}

/// Rotation `V` (`[s, s]` row-major) whose columns are the principal directions of the
/// degree-weighted covariance of the scores `U^T (phi_i - mean)`, by decreasing variance.
///
/// `U V` spans the same subspace as `U`, so the weighted variance and the reconstruction are
/// unchanged, but its first columns carry the most weighted variance: the ordering of kernel
/// PCA components. Applied during the warm-up epochs, it gives the cluster loss the
/// leading components as its `k - 1` cluster dimensions.
pub fn principal_rotation(
    features: &[f32],
    mean: &[f32],
    projection: &[f32],
    latent_size: usize,
    inverse_degrees: &[f64],
) -> Vec<f64> {
    let feature_size = mean.len();
    let s = latent_size;
    let mut covariance = vec![0.0f64; s * s];
    let mut scores = vec![0.0f64; s];
    for (row, weight) in features.chunks(feature_size).zip(inverse_degrees) {
        scores.iter_mut().for_each(|score| *score = 0.0);
        for (f, (value, center)) in row.iter().zip(mean).enumerate() {
            let centered = (*value - *center) as f64;
            for (j, score) in scores.iter_mut().enumerate() {
                *score += centered * projection[f * s + j] as f64;
            }
        }
        for i in 0..s {
            for j in 0..s {
                covariance[i * s + j] += weight * scores[i] * scores[j];
            }
        }
    }
    let (_, vectors) = linalg::symmetric_eigen(&covariance, s);
    vectors
}

/// Scores, memberships and test metrics of `dataset` under the trained model.
pub fn evaluate(
    encoder: &Encoder,
    projection: &Tensor<2>,
    mean: &[f32],
    dataset: &Dataset,
    config: &TrainConfig,
    device: &Device,
) -> Evaluation {
    let k = config.clusters;
    let feature_size = config.feature_size;
    let flat = features(encoder, dataset, device);
    let n = dataset.len();

    // [n, d_f] - [1, d_f], then x [d_f, s] -> [n, s]
    let features = Tensor::<2>::from_data(TensorData::new(flat, [n, feature_size]), device);
    let mean = Tensor::<2>::from_data(TensorData::new(mean.to_vec(), [1, feature_size]), device);
    let scores = features.sub(mean).matmul(projection.clone());
    let scores: Vec<f32> = scores
        .into_data()
        .try_to_vec::<f32>()
        .expect("scores are f32");

    let s = config.latent_size;
    let cluster_scores: Vec<f32> = scores
        .chunks(s)
        .flat_map(|row| row[..k - 1].iter().copied())
        .collect();
    let codes: Vec<f32> = ksc::simplex_codes(k).into_iter().flatten().collect();
    let distances = metrics::cosine_distances(&cluster_scores, &codes, k);
    let memberships = metrics::memberships(&distances, k);
    let assignments = metrics::hard_assignments(&distances, k);

    let labels = class_indices(dataset, config);
    let metrics = TestMetrics {
        acc: metrics::accuracy(&assignments, &labels).accuracy,
        nmi: metrics::nmi(&assignments, &labels),
        ari: metrics::ari(&assignments, &labels),
        ams: metrics::average_membership_strength(&memberships, &assignments, k),
        balance: metrics::balance(&assignments, k),
    };
    Evaluation {
        scores,
        memberships,
        assignments,
        metrics,
    }
}

/// Labels as indices into the preset's class list.
pub fn class_indices(dataset: &Dataset, config: &TrainConfig) -> Vec<usize> {
    let classes = config.preset.classes();
    dataset
        .labels
        .iter()
        .map(|label| {
            classes
                .iter()
                .position(|class| class == label)
                .expect("label is a preset class")
        })
        .collect()
}
