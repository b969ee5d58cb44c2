//! A trained run loaded back from its folder, for export, validation and pictures.

use std::path::Path;

use anyhow::{Context, Result};
use burn::module::Module;
use burn::nn::conv::ConvTranspose2d;
use burn::nn::{BatchNorm, Linear};
use burn::prelude::{Device, Tensor, TensorData};

use crate::checkpoint;
use crate::config::TrainConfig;
use crate::data::{self, Dataset, Split};
use crate::evaluate;
use crate::graph::{DecoderGraph, DecoderLayer, EncoderGraph, Layer};
use crate::ksc;
use crate::model::{AutoEncoder, LEAKY_SLOPE};
use crate::train::CHECKPOINT_FILE;

/// Networks, projection and weighted mean of a finished (or interrupted) run, on the CPU.
pub struct TrainedModel {
    pub config: TrainConfig,
    /// Epochs the checkpoint has finished.
    pub epoch: usize,
    pub model: AutoEncoder,
    /// `U`, `[d_f, s]`.
    pub projection: Tensor<2>,
    /// Weighted mean of the training features, `[d_f]`.
    pub mean: Vec<f32>,
    pub device: Device,
}

impl TrainedModel {
    /// Loads the checkpoint of the run in `run_dir`, in inference mode on the `flex` CPU
    /// backend.
    pub fn load(run_dir: &Path) -> Result<Self> {
        if !run_dir.is_dir() {
            anyhow::bail!(
                "run folder {} not found; train a model first with \
                 `cargo run --release -p host -- train --out {}`",
                run_dir.display(),
                run_dir.display()
            );
        }
        let path = run_dir.join(CHECKPOINT_FILE);
        if !path.exists() {
            anyhow::bail!(
                "{} has no {CHECKPOINT_FILE}; train a model first with \
                 `cargo run --release -p host -- train --out {}`",
                run_dir.display(),
                run_dir.display()
            );
        }
        let checkpoint = checkpoint::load(&path)?;
        let meta = checkpoint.meta;
        let config = meta.config;
        let device = Device::flex();
        let model = AutoEncoder::new(config.architecture, config.feature_size, &device)
            .load_record(checkpoint.model);
        let projection = Tensor::from_data(
            TensorData::new(meta.projection, [config.feature_size, config.latent_size]),
            &device,
        );
        Ok(Self {
            epoch: meta.epoch,
            model,
            projection,
            mean: meta.mean,
            device,
            config,
        })
    }

    /// Loads a split of the run's data set from `data_dir`, or from the run's own data
    /// folder when `data_dir` is `None`, without the run's image limits.
    pub fn dataset(&self, data_dir: Option<&Path>, split: Split) -> Result<Dataset> {
        let dir = data_dir.unwrap_or(&self.config.data_dir);
        data::load_split(dir, self.config.preset, split)
            .with_context(|| format!("cannot load the {:?} split from {}", split, dir.display()))
    }

    /// Centred scores `U^T (phi(x) - mean)` of every image, `[n, s]` row-major.
    pub fn scores(&self, dataset: &Dataset) -> Vec<f32> {
        let features = evaluate::features(&self.model.encoder, dataset, &self.device);
        evaluate::project(
            &features,
            &self.mean,
            &self.projection_values(),
            self.config.latent_size,
        )
    }

    /// Decodes score vectors `[n, s]` (row-major) into images `psi(U e)`, `[n, 28 * 28]`.
    pub fn decode(&self, scores: &[f32]) -> Vec<f32> {
        let s = self.config.latent_size;
        let n = scores.len() / s;
        if n == 0 {
            return Vec::new();
        }
        // [n, s] x [s, d_f] -> [n, d_f] -> [n, 1, 28, 28]
        let scores = Tensor::<2>::from_data(TensorData::new(scores.to_vec(), [n, s]), &self.device);
        let features = scores.matmul(self.projection.clone().transpose());
        let images = self.model.decoder.forward(features);
        images
            .into_data()
            .try_to_vec::<f32>()
            .expect("images are f32")
    }

    /// `U` as `[d_f, s]` row-major values.
    pub fn projection_values(&self) -> Vec<f32> {
        self.projection
            .to_data()
            .try_to_vec::<f32>()
            .expect("projection is f32")
    }

    /// Score vector at the centroid of each cluster's training points, `[k, s]` row-major.
    ///
    /// A cluster without points gets its code direction, scaled to the mean score norm.
    pub fn cluster_centroids(&self, scores: &[f32]) -> Vec<f32> {
        let (k, s) = (self.config.clusters, self.config.latent_size);
        let codes: Vec<f32> = ksc::simplex_codes(k).into_iter().flatten().collect();
        let cluster_scores: Vec<f32> = scores
            .chunks(s)
            .flat_map(|row| row[..k - 1].iter().copied())
            .collect();
        let distances = crate::metrics::cosine_distances(&cluster_scores, &codes, k);
        let assignments = crate::metrics::hard_assignments(&distances, k);

        let mut sums = vec![0.0f64; k * s];
        let mut counts = vec![0usize; k];
        for (row, &cluster) in scores.chunks(s).zip(&assignments) {
            counts[cluster] += 1;
            for (sum, value) in sums[cluster * s..][..s].iter_mut().zip(row) {
                *sum += *value as f64;
            }
        }
        let rows = scores.len() / s;
        let mean_norm = scores
            .chunks(s)
            .map(|row| row.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt())
            .sum::<f64>()
            / rows.max(1) as f64;
        let mut centroids = vec![0.0f32; k * s];
        for c in 0..k {
            for j in 0..s {
                centroids[c * s + j] = if counts[c] > 0 {
                    (sums[c * s + j] / counts[c] as f64) as f32
                } else if j < k - 1 {
                    (codes[c * (k - 1) + j] as f64 * mean_norm) as f32
                } else {
                    0.0
                };
            }
        }
        centroids
    }

    /// Decoded image of each cluster centroid, `[k, 28 * 28]` in `[0, 1]`.
    pub fn prototypes(&self, train_scores: &[f32]) -> Vec<f32> {
        self.decode(&self.cluster_centroids(train_scores))
    }

    /// Plain `f32` description of the encoder, projection and codes, from which every export
    /// is built.
    pub fn encoder_graph(&self, prototypes: Vec<f32>) -> EncoderGraph {
        let mut layers = Vec::new();
        for conv in self.model.encoder.convs() {
            let [out_channels, in_channels, kh, kw] = conv.weight.dims();
            let padding = conv.padding.clone();
            let padding = match padding {
                burn::nn::PaddingConfig2d::Explicit(top, left, _, _) => [top, left],
                _ => [0, 0],
            };
            layers.push(Layer::Conv2d {
                weight: values(conv.weight.val()),
                bias: conv
                    .bias
                    .as_ref()
                    .map(|bias| values(bias.val()))
                    .unwrap_or_else(|| vec![0.0; out_channels]),
                in_channels,
                out_channels,
                kernel: [kh, kw],
                stride: conv.stride,
                padding,
            });
            layers.push(Layer::LeakyRelu {
                alpha: LEAKY_SLOPE as f32,
            });
        }
        layers.push(Layer::Flatten);
        let [hidden, feature] = self.model.encoder.dense_layers();
        for (index, linear) in [hidden, feature].into_iter().enumerate() {
            // Burn stores `[d_input, d_output]`; the graph wants `[out, in]`.
            let [in_features, out_features] = linear.weight.dims();
            let weight = values(linear.weight.val().transpose());
            let bias = linear
                .bias
                .as_ref()
                .map(|bias| values(bias.val()))
                .unwrap_or_else(|| vec![0.0; out_features]);
            layers.push(Layer::Dense {
                weight,
                bias,
                in_features,
                out_features,
            });
            if index == 0 {
                layers.push(Layer::LeakyRelu {
                    alpha: LEAKY_SLOPE as f32,
                });
            }
        }

        let config = &self.config;
        let (feature_size, s) = (config.feature_size, config.latent_size);
        let projection = self.projection_values();
        // U is [d_f, s]; the graph stores U^T as [s, d_f].
        let transposed = (0..s).flat_map(|j| (0..feature_size).map(move |f| (f, j)));
        let transposed: Vec<f32> = transposed.map(|(f, j)| projection[f * s + j]).collect();
        EncoderGraph {
            input_shape: [1, 28, 28],
            layers,
            feature_size,
            mean: self.mean.clone(),
            projection: transposed,
            latent_size: s,
            clusters: config.clusters,
            cluster_codes: ksc::simplex_codes(config.clusters)
                .into_iter()
                .flatten()
                .collect(),
            cluster_names: config
                .preset
                .cluster_names()
                .iter()
                .map(|name| name.to_string())
                .collect(),
            prototypes,
        }
    }
}

impl TrainedModel {
    /// Plain `f32` description of the lift `U e` and the decoder, with every batch
    /// normalisation folded into the layer before it, from which `decoder.onnx` is built.
    ///
    /// # Errors
    ///
    /// A transposed convolution with groups, dilation or output padding, which the graph
    /// does not describe.
    pub fn decoder_graph(&self) -> Result<DecoderGraph> {
        let decoder = &self.model.decoder;
        let norms = decoder.norms();
        let norm = |index: usize| norms.map(|norms| &norms[index]);
        let activation = match norms {
            Some(_) => DecoderLayer::Relu,
            None => DecoderLayer::LeakyRelu {
                alpha: LEAKY_SLOPE as f32,
            },
        };

        let mut layers = Vec::new();
        for (index, linear) in decoder.dense_layers().into_iter().enumerate() {
            layers.push(dense_layer(linear, norm(index)));
            layers.push(activation.clone());
        }
        layers.push(DecoderLayer::Reshape {
            shape: decoder.conv_shape(),
        });

        let deconvs = decoder.deconvs();
        let mut shape = decoder.conv_shape();
        for (index, deconv) in deconvs.iter().enumerate() {
            anyhow::ensure!(
                deconv.groups == 1 && deconv.dilation == [1, 1] && deconv.padding_out == [0, 0],
                "transposed convolution {index} has groups, dilation or output padding, which \
                 the decoder export does not support"
            );
            let last = index + 1 == deconvs.len();
            let folded = if last { None } else { norm(2 + index) };
            layers.push(deconv_layer(deconv, folded));
            let side = |axis: usize| {
                (shape[axis + 1] - 1) * deconv.stride[axis] + deconv.kernel_size[axis]
                    - 2 * deconv.padding[axis]
            };
            shape = [deconv.channels[1], side(0), side(1)];
            if !last {
                layers.push(activation.clone());
            }
        }
        layers.push(DecoderLayer::Sigmoid);

        Ok(DecoderGraph {
            latent_size: self.config.latent_size,
            feature_size: self.config.feature_size,
            projection: self.projection_values(),
            layers,
            output_shape: shape,
        })
    }
}

/// Per-channel `(scale, shift)` of a batch normalisation in inference mode, so that
/// `norm(x) = scale * x + shift`.
fn batch_norm_affine(norm: &BatchNorm) -> Vec<(f64, f64)> {
    let gamma = values(norm.gamma.val());
    let beta = values(norm.beta.val());
    let mean = values(norm.running_mean.value());
    let variance = values(norm.running_var.value());
    gamma
        .iter()
        .zip(&beta)
        .zip(mean.iter().zip(&variance))
        .map(|((&gamma, &beta), (&mean, &variance))| {
            let scale = f64::from(gamma) / (f64::from(variance) + norm.epsilon).sqrt();
            (scale, f64::from(beta) - f64::from(mean) * scale)
        })
        .collect()
}

/// A Burn `Linear` as a graph layer, with `norm` (if any) folded in.
fn dense_layer(linear: &Linear, norm: Option<&BatchNorm>) -> DecoderLayer {
    // Burn stores `[d_input, d_output]`; the graph wants `[out, in]`.
    let [in_features, out_features] = linear.weight.dims();
    let mut weight = values(linear.weight.val().transpose());
    let mut bias = linear
        .bias
        .as_ref()
        .map(|bias| values(bias.val()))
        .unwrap_or_else(|| vec![0.0; out_features]);
    if let Some(norm) = norm {
        for (output, (scale, shift)) in batch_norm_affine(norm).into_iter().enumerate() {
            for w in &mut weight[output * in_features..][..in_features] {
                *w = (f64::from(*w) * scale) as f32;
            }
            bias[output] = (f64::from(bias[output]) * scale + shift) as f32;
        }
    }
    DecoderLayer::Dense {
        weight,
        bias,
        in_features,
        out_features,
    }
}

/// A Burn `ConvTranspose2d` as a graph layer, with `norm` (if any) folded in.
fn deconv_layer(deconv: &ConvTranspose2d, norm: Option<&BatchNorm>) -> DecoderLayer {
    let [in_channels, out_channels, kh, kw] = deconv.weight.dims();
    let mut weight = values(deconv.weight.val());
    let mut bias = deconv
        .bias
        .as_ref()
        .map(|bias| values(bias.val()))
        .unwrap_or_else(|| vec![0.0; out_channels]);
    if let Some(norm) = norm {
        let affine = batch_norm_affine(norm);
        // Output channel o owns weight[i][o][..][..] for every input channel i.
        for (index, block) in weight.chunks_exact_mut(kh * kw).enumerate() {
            let (scale, _) = affine[index % out_channels];
            for w in block {
                *w = (f64::from(*w) * scale) as f32;
            }
        }
        for (b, (scale, shift)) in bias.iter_mut().zip(affine) {
            *b = (f64::from(*b) * scale + shift) as f32;
        }
    }
    DecoderLayer::ConvTranspose2d {
        weight,
        bias,
        in_channels,
        out_channels,
        kernel: [kh, kw],
        stride: deconv.stride,
        padding: deconv.padding,
    }
}

fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor
        .into_data()
        .try_to_vec::<f32>()
        .expect("weights are f32")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quantize::FloatModel;

    #[test]
    fn encoder_graph_matches_burn_scores() {
        let device = Device::flex();
        device.seed(3);
        let mut config = TrainConfig::preset(data::Preset::Mnist012, "data".into());
        config.feature_size = 16;
        config.latent_size = 4;
        let model = AutoEncoder::new(config.architecture, config.feature_size, &device);
        let projection = crate::cayley::random_orthonormal(16, 4, &device);
        let mean: Vec<f32> = (0..16).map(|i| i as f32 * 0.01).collect();
        let trained = TrainedModel {
            config,
            epoch: 0,
            model,
            projection,
            mean,
            device,
        };

        let pixels: Vec<f32> = (0..2 * 784)
            .map(|i| ((i * 37) % 255) as f32 / 255.0)
            .collect();
        let dataset = Dataset {
            images: pixels.clone(),
            labels: vec![0, 1],
            rows: 28,
            cols: 28,
        };
        let expected = trained.scores(&dataset);

        let graph = trained.encoder_graph(vec![0.0; 3 * 784]);
        let float_model = FloatModel::new(&graph).expect("graph is valid");
        for (index, image) in pixels.chunks(784).enumerate() {
            let actual = float_model.scores(image).expect("image has 784 pixels");
            for (a, e) in actual.iter().zip(&expected[index * 4..][..4]) {
                assert!(
                    (a - e).abs() < 1e-4,
                    "image {index}: graph score {a}, Burn score {e}"
                );
            }
        }
    }
}
