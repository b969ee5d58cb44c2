//! Out-of-sample scores, cluster assignments and test metrics of a trained model.

use burn::prelude::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::data::Dataset;
use crate::ksc;
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
        features.extend(batch.into_data().try_to_vec::<f32>().expect("features are f32"));
    }
    features
}

/// Weighted mean of the features of the whole training set, with full-data degrees
/// `D_ii = phi_i^T sum_j phi_j`, clamped as in training. Kept with the model so that
/// out-of-sample scores are centred the same way for every input.
pub fn weighted_mean(encoder: &Encoder, train: &Dataset, device: &Device) -> Vec<f32> {
    let flat = features(encoder, train, device);
    let feature_size = flat.len() / train.len().max(1);
    let features = Tensor::<2>::from_data(TensorData::new(flat, [train.len(), feature_size]), device);
    let (degrees, _) = ksc::degrees(features.clone());
    let mean = ksc::weighted_mean(features, degrees);
    mean.into_data().try_to_vec::<f32>().expect("mean is f32")
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
    let scores: Vec<f32> = scores.into_data().try_to_vec::<f32>().expect("scores are f32");

    let s = config.latent_size;
    let cluster_scores: Vec<f32> =
        scores.chunks(s).flat_map(|row| row[..k - 1].iter().copied()).collect();
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
    Evaluation { scores, memberships, assignments, metrics }
}

/// Labels as indices into the preset's class list.
pub fn class_indices(dataset: &Dataset, config: &TrainConfig) -> Vec<usize> {
    let classes = config.preset.classes();
    dataset
        .labels
        .iter()
        .map(|label| classes.iter().position(|class| class == label).expect("label is a preset class"))
        .collect()
}
