//! The kernel spectral clustering objective of GenKSC, on Burn tensors.
//!
//! For a batch of uncentered feature vectors `phi_i` (rows of `features`), the degree is
//! `D_ii = phi_i^T sum_j phi_j`, the weighted mean is `sum_j D_jj^-1 phi_j / sum_j D_jj^-1`,
//! and the scores are `e_i = U^T (phi_i - mean)`. The loss of one sample is
//!
//! ```text
//! -1/2 D_ii^-1 ||e_i||^2 + eta_reg ||phi_i||^2
//!     + eta_rec ||x_i - psi(U e_i)||^2 + eta_cl min_c d_cos(e'_i, s_c)
//! ```
//!
//! where `e'_i` contains the first `k - 1` scores and `s_c` are the vertices of a regular simplex
//! (Winant, Achten and Suykens, "Generative Kernel Spectral Clustering", ESANN 2025). Every term
//! is averaged over the batch, so the weights do not depend on the batch size.

use burn::prelude::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// Default fraction of the batch's mean absolute degree below which degrees are clamped, and
/// the value of runs written before the fraction was configurable.
pub const DEFAULT_DEGREE_FLOOR: f64 = 1e-3;

/// Offset that keeps the cosine distance finite when a score vector is zero.
const NORM_EPSILON: f64 = 1e-8;

/// Weights of the loss terms.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LossWeights {
    /// Weight of the weighted variance term (1 in the published objective).
    pub variance: f64,
    /// Weight `eta_reg` of the feature regularisation `||phi_i||^2`.
    pub regularization: f64,
    /// Weight `eta_rec` of the reconstruction error.
    pub reconstruction: f64,
    /// Weight `eta_cl` of the cosine cluster loss.
    pub cluster: f64,
    /// Weight of the balance term `||mean_i e'_i / |e'_i|||^2`, which the published objective
    /// does not have (0 there, and in runs written before it existed).
    #[serde(default)]
    pub balance: f64,
}

/// Vertices of a regular `(k-1)`-simplex centred at the origin, as unit vectors.
///
/// Returns `k` rows of `k - 1` values; any two rows have dot product `-1 / (k - 1)`. Each
/// vertex is a centred standard basis vector of `R^k`, written in the Helmert basis of the
/// hyperplane orthogonal to `(1, ..., 1)`.
///
/// # Panics
/// Panics when `k < 2`.
pub fn simplex_codes(k: usize) -> Vec<Vec<f32>> {
    assert!(k >= 2, "a simplex needs at least 2 vertices, got k = {k}");
    let dims = k - 1;
    let mut codes = Vec::with_capacity(k);
    for vertex in 0..k {
        let mut code = vec![0.0f64; dims];
        for (j, value) in code.iter_mut().enumerate() {
            // Helmert basis vector j: ones in the first j + 1 entries, -(j + 1) at entry j + 1.
            let count = (j + 1) as f64;
            let norm = (count * (count + 1.0)).sqrt();
            // The centred vertex e_vertex - 1/k has the same dot product with a basis vector
            // orthogonal to the ones vector as e_vertex itself: entry `vertex` of the basis.
            *value = if vertex <= j {
                1.0 / norm
            } else if vertex == j + 1 {
                -count / norm
            } else {
                0.0
            };
        }
        let length = code.iter().map(|v| v * v).sum::<f64>().sqrt();
        codes.push(code.iter().map(|v| (v / length) as f32).collect());
    }
    codes
}

/// Codes as a `[k, k - 1]` tensor.
pub fn simplex_code_tensor(k: usize, device: &Device) -> Tensor<2> {
    let flat: Vec<f32> = simplex_codes(k).into_iter().flatten().collect();
    Tensor::from_data(TensorData::new(flat, [k, k - 1]), device)
}

/// Degrees `D_ii = phi_i^T sum_j phi_j`, clamped from below to `floor_fraction` times their
/// mean absolute value, and how many were clamped.
///
/// A clamped degree gives its sample up to `1 / floor_fraction` times the weight of an average
/// one in the weighted mean and the variance term. With a tiny fraction, a few samples with
/// non-positive degrees then decide the centering of the whole batch.
///
/// # Shapes
/// - features: `[n, d_f]`
/// - output: `[n]`
pub fn degrees(features: Tensor<2>, floor_fraction: f64) -> (Tensor<1>, usize) {
    // [n, d_f] x [d_f, 1] -> [n, 1]
    let total = features.clone().sum_dim(0).transpose();
    let degrees = features.matmul(total).squeeze_dim::<1>(1);

    let floor = degrees.clone().detach().abs().mean().into_scalar::<f32>() as f64 * floor_fraction;
    let floor = floor.max(f32::MIN_POSITIVE as f64);
    let clamped = degrees
        .clone()
        .detach()
        .lower_elem(floor)
        .int()
        .sum()
        .into_scalar::<i64>();

    (degrees.clamp_min(floor), clamped as usize)
}

/// Weighted mean `sum_j D_jj^-1 phi_j / sum_j D_jj^-1`.
///
/// # Shapes
/// - features: `[n, d_f]`, degrees: `[n]`
/// - output: `[1, d_f]`
pub fn weighted_mean(features: Tensor<2>, degrees: Tensor<1>) -> Tensor<2> {
    let inverse = degrees.recip();
    let total_weight = inverse.clone().sum();

    // [n, 1] * [n, d_f] summed over n -> [1, d_f]
    let weighted = features.mul(inverse.unsqueeze_dim::<2>(1)).sum_dim(0);
    weighted.div(total_weight.unsqueeze::<2>())
}

/// Weighted variance term `-1/2 mean_i D_ii^-1 ||e_i||^2`.
///
/// # Shapes
/// - scores: `[n, s]`, degrees: `[n]`
pub fn variance_term(scores: Tensor<2>, degrees: Tensor<1>) -> Tensor<1> {
    let squared = scores.powi_scalar(2).sum_dim(1).squeeze_dim::<1>(1);
    squared.div(degrees).mean().mul_scalar(-0.5)
}

/// Feature regularisation `mean_i ||phi_i||^2`.
pub fn regularization_term(features: Tensor<2>) -> Tensor<1> {
    features.powi_scalar(2).sum_dim(1).mean()
}

/// Reconstruction error `mean_i ||x_i - x_hat_i||^2`, summed over pixels.
pub fn reconstruction_term(images: Tensor<4>, reconstructed: Tensor<4>) -> Tensor<1> {
    let [n, _, _, _] = images.dims();
    images
        .sub(reconstructed)
        .powi_scalar(2)
        .sum()
        .div_scalar(n as f64)
}

/// Computes the lengths `sqrt(|e'_i|^2 + epsilon)` of the cluster scores, `[n, 1]`. The offset
/// keeps a zero score vector from dividing by zero.
fn score_norms(cluster_scores: Tensor<2>) -> Tensor<2> {
    cluster_scores
        .powi_scalar(2)
        .sum_dim(1)
        .add_scalar(NORM_EPSILON)
        .sqrt()
}

/// Cosine distances `d_ic = 1 - e'_i . s_c / |e'_i|` to unit codes.
///
/// # Shapes
/// - cluster_scores: `[n, k - 1]`, the first `k - 1` scores
/// - codes: `[k, k - 1]`, unit rows
/// - output: `[n, k]`
pub fn cosine_distances(cluster_scores: Tensor<2>, codes: Tensor<2>) -> Tensor<2> {
    let norms = score_norms(cluster_scores.clone());
    let cosines = cluster_scores.matmul(codes.transpose()).div(norms);
    cosines.neg().add_scalar(1.0)
}

/// Cluster loss `mean_i min_c d_cos(e'_i, s_c)`.
pub fn cluster_term(cluster_scores: Tensor<2>, codes: Tensor<2>) -> Tensor<1> {
    cosine_distances(cluster_scores, codes).min_dim(1).mean()
}

/// Computes the balance term `||mean_i e'_i / |e'_i|||^2`, the squared length of the mean of
/// the unit cluster-score directions. It is 0 when the directions cancel, as they do for equally
/// many points on each simplex code, and 1 when every point has the same direction. A public
/// implementation by one of the paper's authors (a supervised variant) adds this term.
///
/// # Shapes
/// - cluster_scores: `[n, k - 1]`
pub fn balance_term(cluster_scores: Tensor<2>) -> Tensor<1> {
    let norms = score_norms(cluster_scores.clone());
    let directions = cluster_scores.div(norms);
    directions.mean_dim(0).powi_scalar(2).sum()
}

/// Loss terms of one batch, each already averaged over the batch and not yet weighted.
#[derive(Clone, Debug)]
pub struct LossTerms {
    pub variance: Tensor<1>,
    pub regularization: Tensor<1>,
    pub reconstruction: Tensor<1>,
    pub cluster: Tensor<1>,
    pub balance: Tensor<1>,
}

impl LossTerms {
    /// Weighted sum of the terms; the cluster and balance terms count only when `cluster_on`
    /// is set.
    pub fn total(&self, weights: &LossWeights, cluster_on: bool) -> Tensor<1> {
        let mut total = self
            .variance
            .clone()
            .mul_scalar(weights.variance)
            .add(
                self.regularization
                    .clone()
                    .mul_scalar(weights.regularization),
            )
            .add(
                self.reconstruction
                    .clone()
                    .mul_scalar(weights.reconstruction),
            );
        if cluster_on {
            total = total.add(self.cluster.clone().mul_scalar(weights.cluster));
            if weights.balance != 0.0 {
                total = total.add(self.balance.clone().mul_scalar(weights.balance));
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Device {
        Device::flex()
    }

    fn matrix(rows: &[&[f32]]) -> Tensor<2> {
        let cols = rows[0].len();
        let flat: Vec<f32> = rows.iter().flat_map(|row| row.iter().copied()).collect();
        Tensor::from_data(TensorData::new(flat, [rows.len(), cols]), &device())
    }

    fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
        tensor.into_data().try_to_vec::<f32>().unwrap()
    }

    fn assert_close(actual: f32, expected: f64, tolerance: f64) {
        assert!(
            (actual as f64 - expected).abs() <= tolerance,
            "expected {expected}, got {actual} (tolerance {tolerance})"
        );
    }

    #[test]
    fn simplex_codes_geometry() {
        for k in 2..=12 {
            let codes = simplex_codes(k);
            assert_eq!(codes.len(), k);
            for (a, code) in codes.iter().enumerate() {
                assert_eq!(code.len(), k - 1);
                let norm: f64 = code.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
                assert!(
                    (norm - 1.0).abs() < 1e-6,
                    "k = {k}: code {a} has norm {norm}"
                );
                for (b, other) in codes.iter().enumerate().skip(a + 1) {
                    let dot: f64 = code.iter().zip(other).map(|(x, y)| (*x * *y) as f64).sum();
                    let expected = -1.0 / (k as f64 - 1.0);
                    assert!(
                        (dot - expected).abs() < 1e-6,
                        "k = {k}: codes {a}, {b} dot {dot}"
                    );
                }
            }
        }
    }

    #[test]
    fn simplex_codes_k2_are_plus_minus_one() {
        assert_eq!(simplex_codes(2), vec![vec![1.0], vec![-1.0]]);
    }

    // Batch used by the hand-worked tests:
    //   phi_1 = (1, 0), phi_2 = (0, 2), phi_3 = (1, 1); sum = (2, 3)
    //   D = (2, 6, 5); 1/D = (1/2, 1/6, 1/5), sum 13/15
    //   mean = ((1/2 + 1/5), (2/6 + 1/5)) / (13/15) = (21/26, 8/13)
    fn hand_batch() -> Tensor<2> {
        matrix(&[&[1.0, 0.0], &[0.0, 2.0], &[1.0, 1.0]])
    }

    #[test]
    fn degrees_by_hand() {
        let (degrees, clamped) = degrees(hand_batch(), DEFAULT_DEGREE_FLOOR);
        assert_eq!(values(degrees), vec![2.0, 6.0, 5.0]);
        assert_eq!(clamped, 0);
    }

    #[test]
    fn degrees_clamp_negative() {
        // phi_1 . sum = (1, 0) . (-1, 3) = -1 is negative and gets the floor 1e-3 * mean |D|.
        let (degrees, clamped) = degrees(matrix(&[&[1.0, 0.0], &[-2.0, 3.0]]), 1e-3);
        assert_eq!(clamped, 1);
        let degrees = values(degrees);
        // D = (-1, 11), mean |D| = 6.
        assert_close(degrees[0], 6e-3, 1e-9);
        assert_close(degrees[1], 11.0, 1e-6);
    }

    #[test]
    fn weighted_mean_by_hand() {
        let (degrees, _) = degrees(hand_batch(), DEFAULT_DEGREE_FLOOR);
        let mean = values(weighted_mean(hand_batch(), degrees));
        assert_close(mean[0], 21.0 / 26.0, 1e-6);
        assert_close(mean[1], 8.0 / 13.0, 1e-6);
    }

    #[test]
    fn variance_term_by_hand() {
        // e = (3, 4), (0, 1); D = (5, 2): -1/2 * mean(25/5, 1/2) = -1/2 * 2.75
        let scores = matrix(&[&[3.0, 4.0], &[0.0, 1.0]]);
        let degrees = Tensor::<1>::from_floats([5.0, 2.0], &device());
        assert_close(values(variance_term(scores, degrees))[0], -1.375, 1e-6);
    }

    #[test]
    fn regularization_term_by_hand() {
        // ||phi||^2 = 1, 4, 2: mean 7/3
        assert_close(
            values(regularization_term(hand_batch()))[0],
            7.0 / 3.0,
            1e-6,
        );
    }

    #[test]
    fn reconstruction_term_by_hand() {
        let device = device();
        let images = Tensor::<4>::zeros([2, 1, 28, 28], &device);
        let mut pixels = vec![0.0f32; 2 * 28 * 28];
        pixels[0] = 0.5;
        pixels[5] = 1.0;
        pixels[28 * 28 + 7] = 2.0;
        let reconstructed =
            Tensor::<4>::from_data(TensorData::new(pixels, [2, 1, 28, 28]), &device);
        // (0.25 + 1 + 4) / 2
        assert_close(
            values(reconstruction_term(images, reconstructed))[0],
            2.625,
            1e-6,
        );
    }

    #[test]
    fn cluster_term_by_hand() {
        // For k = 3 the codes are (sqrt3/2, 1/2), (-sqrt3/2, 1/2) and (0, -1).
        let half_sqrt3 = 3.0f32.sqrt() / 2.0;
        let codes = simplex_code_tensor(3, &device());
        let expected = [half_sqrt3, 0.5, -half_sqrt3, 0.5, 0.0, -1.0];
        for (actual, expected) in values(codes.clone()).into_iter().zip(expected) {
            assert_close(actual, expected as f64, 1e-6);
        }
        // e'_1 = 2 s_0 has distance 0; e'_2 = (0, 1) has distances (1/2, 1/2, 2), minimum 1/2.
        let scores = matrix(&[&[2.0 * half_sqrt3, 1.0], &[0.0, 1.0]]);
        assert_close(values(cluster_term(scores, codes))[0], 0.25, 1e-6);
    }

    #[test]
    fn cosine_distance_range() {
        let codes = simplex_code_tensor(4, &device());
        let scores = matrix(&[&[1.0, -2.0, 0.5], &[-0.3, 0.1, 0.9]]);
        for distance in values(cosine_distances(scores, codes)) {
            assert!(
                (0.0..=2.0).contains(&distance),
                "distance {distance} outside [0, 2]"
            );
        }
    }

    #[test]
    fn total_respects_cluster_switch() {
        let one = || Tensor::<1>::from_floats([1.0], &device());
        let terms = LossTerms {
            variance: one().mul_scalar(-2.0),
            regularization: one().mul_scalar(3.0),
            reconstruction: one().mul_scalar(5.0),
            cluster: one().mul_scalar(7.0),
            balance: one().mul_scalar(11.0),
        };
        let weights = LossWeights {
            variance: 1.0,
            regularization: 0.5,
            reconstruction: 2.0,
            cluster: 3.0,
            balance: 0.25,
        };
        assert_close(
            values(terms.total(&weights, false))[0],
            -2.0 + 1.5 + 10.0,
            1e-6,
        );
        assert_close(
            values(terms.total(&weights, true))[0],
            -2.0 + 1.5 + 10.0 + 21.0 + 2.75,
            1e-6,
        );
    }

    #[test]
    fn balance_term_by_hand() {
        // Directions (1, 0) and (0, 1): mean (1/2, 1/2), squared length 1/2.
        let spread = matrix(&[&[1.0, 0.0], &[0.0, 2.0]]);
        assert_close(values(balance_term(spread))[0], 0.5, 1e-6);
        // Opposite directions cancel.
        let opposite = matrix(&[&[1.0, 0.0], &[-3.0, 0.0]]);
        assert_close(values(balance_term(opposite))[0], 0.0, 1e-6);
        // One shared direction gives 1.
        let shared = matrix(&[&[0.0, 2.0], &[0.0, 5.0]]);
        assert_close(values(balance_term(shared))[0], 1.0, 1e-6);
    }
}
