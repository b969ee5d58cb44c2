//! A plain `f32` description of a trained encoder, independent of Burn.
//!
//! The trainer builds one [`EncoderGraph`] from the Burn weights, and every export (ONNX and the
//! fixed-point model file) reads from it, so the exports cannot drift apart.

use serde::{Deserialize, Serialize};

/// One layer of the encoder, in the order it runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Layer {
    /// 2-D convolution over a `[channels, height, width]` input, with zero padding.
    Conv2d {
        /// Weights in `[out_channels, in_channels, kernel_h, kernel_w]` order, row-major.
        weight: Vec<f32>,
        /// One bias per output channel.
        bias: Vec<f32>,
        in_channels: usize,
        out_channels: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    },
    /// Fully connected layer `y = W x + b`.
    Dense {
        /// Weights in `[out_features, in_features]` order, row-major.
        weight: Vec<f32>,
        bias: Vec<f32>,
        in_features: usize,
        out_features: usize,
    },
    /// `max(x, 0) + alpha * min(x, 0)`.
    LeakyRelu { alpha: f32 },
    /// Flattens `[channels, height, width]` to one vector in channel-major order.
    Flatten,
}

/// The encoder `phi`, the centering and the projection that produce the score vector
/// `e = U^T (phi(x) - mean)` of one 1x28x28 image with pixels in `[0, 1]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EncoderGraph {
    /// Input shape `[channels, height, width]`.
    pub input_shape: [usize; 3],
    pub layers: Vec<Layer>,
    /// Size of the feature vector `phi(x)`.
    pub feature_size: usize,
    /// Weighted mean of the training features, subtracted before projecting (`feature_size`).
    pub mean: Vec<f32>,
    /// `U^T` in `[latent_size, feature_size]` order, row-major.
    pub projection: Vec<f32>,
    /// Latent size `s`.
    pub latent_size: usize,
    /// Number of clusters `k`.
    pub clusters: usize,
    /// Unit simplex codes in `[k, k - 1]` order, row-major.
    pub cluster_codes: Vec<f32>,
    /// One display name per cluster.
    pub cluster_names: Vec<String>,
    /// Decoded prototype of each cluster, `[k, 28 * 28]` pixels in `[0, 1]`.
    pub prototypes: Vec<f32>,
}

/// One layer of the decoder, in the order it runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DecoderLayer {
    /// Fully connected layer `y = W x + b`, with any batch normalisation that follows it folded
    /// into `W` and `b`.
    Dense {
        /// Weights in `[out_features, in_features]` order, row-major.
        weight: Vec<f32>,
        bias: Vec<f32>,
        in_features: usize,
        out_features: usize,
    },
    /// Reshapes a vector into a `[channels, height, width]` tensor, channel-major.
    Reshape { shape: [usize; 3] },
    /// 2-D transposed convolution, with any batch normalisation that follows it folded into
    /// the weights and bias. The output side is `(in - 1) * stride - 2 * padding + kernel`.
    ConvTranspose2d {
        /// Weights in `[in_channels, out_channels, kernel_h, kernel_w]` order, row-major (the
        /// layout of Burn and of ONNX `ConvTranspose`).
        weight: Vec<f32>,
        /// One bias per output channel.
        bias: Vec<f32>,
        in_channels: usize,
        out_channels: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    },
    /// `max(x, 0) + alpha * min(x, 0)`.
    LeakyRelu { alpha: f32 },
    /// `max(x, 0)`.
    Relu,
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
}

/// The lift `f = U e` and the decoder `psi` that turn a score vector into an image
/// `psi(U e)`, in inference mode (batch normalisation uses its running statistics).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecoderGraph {
    /// Latent size `s`.
    pub latent_size: usize,
    /// Size `d_f` of the feature vector.
    pub feature_size: usize,
    /// `U` in `[feature_size, latent_size]` order, row-major.
    pub projection: Vec<f32>,
    pub layers: Vec<DecoderLayer>,
    /// Output shape `[channels, height, width]`.
    pub output_shape: [usize; 3],
}
