//! Cayley ADAM: ADAM on the Stiefel manifold `{X : X^T X = I}`.
//!
//! Algorithm 2 of Li, Li and Todorovic, "Efficient Riemannian optimization on the Stiefel
//! manifold via the Cayley transform" (ICLR 2020). The momentum is kept in the tangent space
//! and each step applies an iterative approximation of the Cayley transform
//! `(I + a/2 W)^-1 (I - a/2 W) X` with a skew-symmetric `W`, so `X` stays orthonormal up to
//! rounding. [`CayleyAdam::step`] re-orthonormalises with Gram-Schmidt every
//! [`CayleyAdamConfig::reorthonormalize_every`] steps to remove the rounding drift.

use burn::prelude::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// Settings of [`CayleyAdam`]; the defaults follow the published algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CayleyAdamConfig {
    pub learning_rate: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub epsilon: f64,
    /// Contraction factor `q` that caps the step size at `2 q / ||W||`.
    pub q: f64,
    /// Fixed-point iterations of the Cayley transform.
    pub iterations: usize,
    /// Steps between two Gram-Schmidt re-orthonormalisations; 0 turns them off.
    pub reorthonormalize_every: u64,
}

impl Default for CayleyAdamConfig {
    fn default() -> Self {
        Self {
            learning_rate: 1e-3,
            beta1: 0.9,
            beta2: 0.99,
            epsilon: 1e-8,
            q: 0.5,
            iterations: 2,
            reorthonormalize_every: 100,
        }
    }
}

/// Optimizer state for one `n x p` parameter with orthonormal columns.
#[derive(Clone, Debug)]
pub struct CayleyAdam {
    config: CayleyAdamConfig,
    /// First moment, `n x p`, in the tangent space after each step.
    momentum: Tensor<2>,
    /// Second moment: one scalar for the whole matrix.
    velocity: f64,
    /// Number of steps taken.
    step: u64,
}

/// Serialisable form of [`CayleyAdam`], for checkpoints.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CayleyAdamState {
    pub config: CayleyAdamConfig,
    pub shape: [usize; 2],
    pub momentum: Vec<f32>,
    pub velocity: f64,
    pub step: u64,
}

impl CayleyAdam {
    /// Creates an optimizer for an `n x p` parameter.
    pub fn new(config: CayleyAdamConfig, shape: [usize; 2], device: &Device) -> Self {
        Self {
            config,
            momentum: Tensor::zeros(shape, device),
            velocity: 0.0,
            step: 0,
        }
    }

    /// Changes the learning rate for the next steps.
    pub fn set_learning_rate(&mut self, learning_rate: f64) {
        self.config.learning_rate = learning_rate;
    }

    /// Settings of this optimizer.
    pub fn config(&self) -> &CayleyAdamConfig {
        &self.config
    }

    /// Takes one step from `x` along the Euclidean gradient `gradient` of the loss to minimise.
    ///
    /// # Shapes
    /// - x, gradient: `[n, p]` with `n >= p`
    /// - output: `[n, p]`
    pub fn step(&mut self, x: Tensor<2>, gradient: Tensor<2>) -> Tensor<2> {
        let config = self.config;
        self.step += 1;
        let step = self.step as i32;

        let gradient_norm = gradient.clone().powi_scalar(2).sum().into_scalar::<f32>() as f64;
        let momentum = self
            .momentum
            .clone()
            .mul_scalar(config.beta1)
            .add(gradient.mul_scalar(1.0 - config.beta1));
        self.velocity = config.beta2 * self.velocity + (1.0 - config.beta2) * gradient_norm;
        let velocity_hat = self.velocity / (1.0 - config.beta2.powi(step));
        let r = (1.0 - config.beta1.powi(step)) * (velocity_hat + config.epsilon).sqrt();

        // W_hat = M X^T - 1/2 X (X^T M X^T), [n, n]; W = (W_hat - W_hat^T) / r is skew-symmetric.
        let x_t = x.clone().transpose();
        let m_xt = momentum.clone().matmul(x_t.clone());
        let w_hat = m_xt
            .clone()
            .sub(x.clone().matmul(x_t.matmul(m_xt)).mul_scalar(0.5));
        let w = w_hat.clone().sub(w_hat.transpose()).div_scalar(r);

        // Momentum moved to the tangent space at X.
        let momentum = w.clone().matmul(x.clone()).mul_scalar(r);

        let w_norm = w.clone().powi_scalar(2).sum().into_scalar::<f32>() as f64;
        let alpha = config
            .learning_rate
            .min(2.0 * config.q / (w_norm.sqrt() + config.epsilon));

        let mut y = x.clone().sub(momentum.clone().mul_scalar(alpha));
        for _ in 0..config.iterations {
            y = x
                .clone()
                .sub(w.clone().matmul(x.clone().add(y)).mul_scalar(alpha / 2.0));
        }
        self.momentum = momentum;

        let reorthonormalize = config.reorthonormalize_every;
        if reorthonormalize > 0 && self.step.is_multiple_of(reorthonormalize) {
            y = orthonormalize(y);
        }
        y
    }

    /// Rotates the stored momentum by `rotation` (`[p, p]`, orthogonal), to follow a parameter
    /// that was replaced by `X rotation`.
    pub fn rotate(&mut self, rotation: Tensor<2>) {
        self.momentum = self.momentum.clone().matmul(rotation);
    }

    /// State for a checkpoint.
    pub fn state(&self) -> CayleyAdamState {
        CayleyAdamState {
            config: self.config,
            shape: self.momentum.dims(),
            momentum: self
                .momentum
                .to_data()
                .try_to_vec::<f32>()
                .expect("momentum is f32"),
            velocity: self.velocity,
            step: self.step,
        }
    }

    /// Restores an optimizer from a checkpoint.
    pub fn from_state(state: &CayleyAdamState, device: &Device) -> Self {
        let momentum =
            Tensor::from_data(TensorData::new(state.momentum.clone(), state.shape), device);
        Self {
            config: state.config,
            momentum,
            velocity: state.velocity,
            step: state.step,
        }
    }
}

/// Orthonormalises the columns of `x` with modified Gram-Schmidt in `f64`.
///
/// # Shapes
/// - x: `[n, p]` with `n >= p` and linearly independent columns
/// - output: `[n, p]`
pub fn orthonormalize(x: Tensor<2>) -> Tensor<2> {
    let device = x.device();
    let [n, p] = x.dims();
    let values = x
        .into_data()
        .try_to_vec::<f32>()
        .expect("projection is f32");
    let mut columns: Vec<Vec<f64>> = (0..p)
        .map(|j| (0..n).map(|i| values[i * p + j] as f64).collect())
        .collect();

    for j in 0..p {
        let (done, rest) = columns.split_at_mut(j);
        let column = &mut rest[0];
        for previous in done.iter() {
            let dot: f64 = column.iter().zip(previous).map(|(a, b)| a * b).sum();
            for (value, base) in column.iter_mut().zip(previous) {
                *value -= dot * base;
            }
        }
        let norm = column.iter().map(|v| v * v).sum::<f64>().sqrt();
        for value in column.iter_mut() {
            *value /= norm;
        }
    }

    let flat: Vec<f32> = (0..n)
        .flat_map(|i| columns.iter().map(move |c| c[i] as f32))
        .collect();
    Tensor::from_data(TensorData::new(flat, [n, p]), &device)
}

/// Largest absolute entry of `X^T X - I`.
pub fn orthonormality_error(x: Tensor<2>) -> f64 {
    let [_, p] = x.dims();
    let device = x.device();
    let gram = x.clone().transpose().matmul(x);
    let error = gram
        .sub(Tensor::eye(p, &device))
        .abs()
        .max()
        .into_scalar::<f32>();
    error as f64
}

/// A random `n x p` matrix with orthonormal columns, from the device's seeded generator.
pub fn random_orthonormal(n: usize, p: usize, device: &Device) -> Tensor<2> {
    let gaussian =
        Tensor::<2>::random([n, p], burn::tensor::Distribution::Normal(0.0, 1.0), device);
    orthonormalize(gaussian)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Device {
        let device = Device::flex();
        device.seed(7);
        device
    }

    /// Symmetric `n x n` matrix `Q diag(eigenvalues) Q^T` with a random orthogonal `Q`.
    fn symmetric_with_eigenvalues(eigenvalues: &[f32], device: &Device) -> (Tensor<2>, Tensor<2>) {
        let n = eigenvalues.len();
        let q = random_orthonormal(n, n, device);
        let diagonal = Tensor::<1>::from_floats(eigenvalues, device);
        let a = q
            .clone()
            .mul(diagonal.unsqueeze_dim::<2>(0))
            .matmul(q.clone().transpose());
        (a, q)
    }

    #[test]
    fn orthonormalize_gives_identity_gram() {
        let device = device();
        let x = Tensor::<2>::random(
            [20, 5],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        assert!(orthonormality_error(orthonormalize(x)) < 1e-6);
    }

    #[test]
    fn stays_orthonormal_over_long_run() {
        let device = device();
        let [n, p] = [32, 6];
        let mut x = random_orthonormal(n, p, &device);
        let mut optimizer = CayleyAdam::new(CayleyAdamConfig::default(), [n, p], &device);
        let mut worst: f64 = 0.0;
        for step in 0..10_000 {
            let gradient = Tensor::<2>::random(
                [n, p],
                burn::tensor::Distribution::Normal(0.0, 1.0),
                &device,
            );
            x = optimizer.step(x, gradient);
            if step % 97 == 0 {
                worst = worst.max(orthonormality_error(x.clone()));
            }
        }
        worst = worst.max(orthonormality_error(x));
        assert!(worst < 1e-5, "orthonormality error reached {worst}");
    }

    #[test]
    fn maximises_trace_to_top_eigenspace() {
        let device = device();
        let eigenvalues = [9.0, 7.5, 6.0, 2.0, 1.5, 1.0, 0.5, 0.2, 0.1, 0.05];
        let n = eigenvalues.len();
        let p = 3;
        let (a, q) = symmetric_with_eigenvalues(&eigenvalues, &device);
        let config = CayleyAdamConfig {
            learning_rate: 0.05,
            ..CayleyAdamConfig::default()
        };
        let mut optimizer = CayleyAdam::new(config, [n, p], &device);
        let mut x = random_orthonormal(n, p, &device);

        for _ in 0..3_000 {
            // Loss -trace(X^T A X) has gradient -2 A X.
            let gradient = a.clone().matmul(x.clone()).mul_scalar(-2.0);
            x = optimizer.step(x, gradient);
        }

        // Compare projectors, which do not depend on a rotation inside the subspace.
        let top = q.slice([0..n, 0..p]);
        let expected = top.clone().matmul(top.transpose());
        let actual = x.clone().matmul(x.clone().transpose());
        let difference = actual.sub(expected).abs().max().into_scalar::<f32>();
        assert!(difference < 1e-3, "projector differs by {difference}");

        let trace = x.clone().transpose().matmul(a).matmul(x);
        let trace: f32 = (0..p)
            .map(|i| {
                trace
                    .clone()
                    .slice([i..i + 1, i..i + 1])
                    .into_scalar::<f32>()
            })
            .sum();
        assert!((trace - 22.5).abs() < 1e-2, "trace {trace}, expected 22.5");
    }

    #[test]
    fn state_round_trip_continues_identically() {
        let device = device();
        let [n, p] = [8, 3];
        let gradient = |scale: f32| {
            Tensor::<2>::from_data(
                TensorData::new(
                    (0..n * p)
                        .map(|i| (i as f32 * 0.37).sin() * scale)
                        .collect(),
                    [n, p],
                ),
                &device,
            )
        };
        let mut x = random_orthonormal(n, p, &device);
        let mut optimizer = CayleyAdam::new(CayleyAdamConfig::default(), [n, p], &device);
        for step in 0..5 {
            x = optimizer.step(x, gradient(1.0 + step as f32));
        }
        let mut restored = CayleyAdam::from_state(&optimizer.state(), &device);
        assert_eq!(restored.state(), optimizer.state());

        let expected = optimizer
            .step(x.clone(), gradient(-0.5))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let actual = restored
            .step(x, gradient(-0.5))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(actual, expected);
    }
}
