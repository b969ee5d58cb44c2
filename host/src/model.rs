//! Encoder `phi` and decoder `psi` networks of each preset.
//!
//! Both presets map a `[batch, 1, 28, 28]` image batch with pixels in `[0, 1]` to a feature
//! vector of size `d_f`, and back through a mirrored network that ends in a sigmoid.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::{Device, Tensor};
use burn::tensor::activation::{relu, sigmoid};
use serde::{Deserialize, Serialize};

/// Negative slope of every LeakyReLU in the encoders.
pub const LEAKY_SLOPE: f64 = 0.2;

/// Applies LeakyReLU with slope [`LEAKY_SLOPE`], computed as `x + (1 - slope) relu(-x)`.
///
/// Under autodiff, Burn's `leaky_relu` becomes a comparison, a product and a `mask_where`,
/// whose backward pass masks the gradient twice. `relu` has a fused backward pass, which makes
/// this form several times faster in training on `flex` (`cargo run --release -p host
/// --example leaky_relu`). It returns `x` unchanged for `x >= 0`, and `slope * x` up to
/// rounding for `x < 0`.
pub fn leaky<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let negative_part = relu(x.clone().neg());
    x.add(negative_part.mul_scalar(1.0 - LEAKY_SLOPE))
}

/// Network family; each preset uses one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Architecture {
    /// Three strided convolutions and two dense layers, with a mirrored decoder.
    SmallCnn,
    /// The ClusterGAN encoder and generator (Mukherjee et al., AAAI 2019).
    ClusterGan,
}

/// One convolution of an encoder.
struct ConvSpec {
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    padding: usize,
}

impl Architecture {
    /// Convolutions of the encoder, all with stride 2.
    fn encoder_convs(self) -> &'static [ConvSpec] {
        match self {
            Architecture::SmallCnn => &[
                ConvSpec {
                    in_channels: 1,
                    out_channels: 16,
                    kernel: 4,
                    padding: 1,
                },
                ConvSpec {
                    in_channels: 16,
                    out_channels: 32,
                    kernel: 4,
                    padding: 1,
                },
                ConvSpec {
                    in_channels: 32,
                    out_channels: 64,
                    kernel: 3,
                    padding: 1,
                },
            ],
            Architecture::ClusterGan => &[
                ConvSpec {
                    in_channels: 1,
                    out_channels: 64,
                    kernel: 4,
                    padding: 0,
                },
                ConvSpec {
                    in_channels: 64,
                    out_channels: 128,
                    kernel: 4,
                    padding: 0,
                },
            ],
        }
    }

    /// Shape `[channels, height, width]` of the last convolution's output.
    pub fn conv_output_shape(self) -> [usize; 3] {
        let mut size = 28;
        let mut channels = 1;
        for conv in self.encoder_convs() {
            size = (size + 2 * conv.padding - conv.kernel) / 2 + 1;
            channels = conv.out_channels;
        }
        [channels, size, size]
    }

    /// Width of the hidden dense layer.
    pub fn hidden_size(self) -> usize {
        match self {
            Architecture::SmallCnn => 64,
            Architecture::ClusterGan => 1024,
        }
    }
}

/// Encoder `phi`: image batch to feature vectors.
#[derive(Module, Debug)]
pub struct Encoder {
    convs: Vec<Conv2d>,
    hidden: Linear,
    feature: Linear,
}

impl Encoder {
    /// Creates an encoder with freshly initialised weights.
    pub fn new(architecture: Architecture, feature_size: usize, device: &Device) -> Self {
        let convs = architecture
            .encoder_convs()
            .iter()
            .map(|conv| {
                let padding = conv.padding;
                Conv2dConfig::new([conv.in_channels, conv.out_channels], [conv.kernel; 2])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(
                        padding, padding, padding, padding,
                    ))
                    .init(device)
            })
            .collect();
        let [channels, height, width] = architecture.conv_output_shape();
        let flat = channels * height * width;
        let hidden_size = architecture.hidden_size();

        Self {
            convs,
            hidden: LinearConfig::new(flat, hidden_size).init(device),
            feature: LinearConfig::new(hidden_size, feature_size).init(device),
        }
    }

    /// Computes `phi(x)`.
    ///
    /// # Shapes
    /// - images: `[batch, 1, 28, 28]`
    /// - output: `[batch, d_f]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = images;
        for conv in &self.convs {
            x = leaky(conv.forward(x));
        }

        // [batch, channels, h, w] -> [batch, channels * h * w]
        let x = x.flatten::<2>(1, 3);
        let x = leaky(self.hidden.forward(x));

        self.feature.forward(x)
    }

    /// Returns the convolutions in order.
    pub fn convs(&self) -> &[Conv2d] {
        &self.convs
    }

    /// Returns the hidden and the feature dense layers.
    pub fn dense_layers(&self) -> [&Linear; 2] {
        [&self.hidden, &self.feature]
    }
}

/// Decoder `psi`: feature vectors back to images, mirroring the encoder.
#[derive(Module, Debug)]
pub struct Decoder {
    hidden: Linear,
    expand: Linear,
    norms: Vec<BatchNorm>,
    deconvs: Vec<ConvTranspose2d>,
    #[module(skip)]
    conv_shape: [usize; 3],
    #[module(skip)]
    use_batch_norm: bool,
}

impl Decoder {
    /// Creates a decoder with freshly initialised weights.
    pub fn new(architecture: Architecture, feature_size: usize, device: &Device) -> Self {
        // The decoder starts from a 7x7 or 4x4 grid and doubles it with each transposed
        // convolution: (4, 7, 14, 28) for the small CNN and (7, 14, 28) for ClusterGAN.
        let (conv_shape, deconvs): ([usize; 3], Vec<(usize, usize, usize)>) = match architecture {
            Architecture::SmallCnn => ([64, 4, 4], vec![(64, 32, 3), (32, 16, 4), (16, 1, 4)]),
            Architecture::ClusterGan => ([128, 7, 7], vec![(128, 64, 4), (64, 1, 4)]),
        };
        let use_batch_norm = architecture == Architecture::ClusterGan;
        let hidden_size = architecture.hidden_size();
        let flat = conv_shape.iter().product();

        let deconvs = deconvs
            .into_iter()
            .map(|(input, output, kernel)| {
                ConvTranspose2dConfig::new([input, output], [kernel; 2])
                    .with_stride([2, 2])
                    .with_padding([1, 1])
                    .init(device)
            })
            .collect::<Vec<_>>();
        let norms = if use_batch_norm {
            let mut sizes = vec![hidden_size, flat];
            sizes.extend(
                deconvs[..deconvs.len() - 1]
                    .iter()
                    .map(|deconv| deconv.channels[1]),
            );
            sizes
                .into_iter()
                .map(|size| BatchNormConfig::new(size).init(device))
                .collect()
        } else {
            Vec::new()
        };

        Self {
            hidden: LinearConfig::new(feature_size, hidden_size).init(device),
            expand: LinearConfig::new(hidden_size, flat).init(device),
            norms,
            deconvs,
            conv_shape,
            use_batch_norm,
        }
    }

    /// Computes `psi(f)`.
    ///
    /// # Shapes
    /// - features: `[batch, d_f]`
    /// - output: `[batch, 1, 28, 28]`, values in `(0, 1)`
    pub fn forward(&self, features: Tensor<2>) -> Tensor<4> {
        let [batch, _] = features.dims();
        let x = self.hidden.forward(features);
        let x = self.activate_dense(x, 0);
        let x = self.expand.forward(x);
        let x = self.activate_dense(x, 1);

        // [batch, c * h * w] -> [batch, c, h, w]
        let [channels, height, width] = self.conv_shape;
        let mut x = x.reshape([batch, channels, height, width]);

        let last = self.deconvs.len() - 1;
        for (index, deconv) in self.deconvs.iter().enumerate() {
            x = deconv.forward(x);
            if index == last {
                break;
            }
            x = if self.use_batch_norm {
                relu(self.norms[2 + index].forward(x))
            } else {
                leaky(x)
            };
        }

        sigmoid(x)
    }

    /// Returns the dense layers: features to hidden, hidden to the flattened first grid.
    pub fn dense_layers(&self) -> [&Linear; 2] {
        [&self.hidden, &self.expand]
    }

    /// Returns the transposed convolutions in order.
    pub fn deconvs(&self) -> &[ConvTranspose2d] {
        &self.deconvs
    }

    /// Returns the batch normalisations after the two dense layers and after every transposed
    /// convolution but the last, in that order, or `None` when the decoder uses LeakyReLU.
    pub fn norms(&self) -> Option<&[BatchNorm]> {
        self.use_batch_norm.then_some(self.norms.as_slice())
    }

    /// Returns the shape `[channels, height, width]` that the dense output is reshaped into.
    pub fn conv_shape(&self) -> [usize; 3] {
        self.conv_shape
    }

    fn activate_dense(&self, x: Tensor<2>, norm_index: usize) -> Tensor<2> {
        if self.use_batch_norm {
            relu(self.norms[norm_index].forward(x))
        } else {
            leaky(x)
        }
    }
}

/// Encoder and decoder trained together; `U` lives outside because Cayley ADAM updates it.
#[derive(Module, Debug)]
pub struct AutoEncoder {
    pub encoder: Encoder,
    pub decoder: Decoder,
}

impl AutoEncoder {
    /// Creates both networks with freshly initialised weights.
    pub fn new(architecture: Architecture, feature_size: usize, device: &Device) -> Self {
        Self {
            encoder: Encoder::new(architecture, feature_size, device),
            decoder: Decoder::new(architecture, feature_size, device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaky_matches_burn_leaky_relu() {
        use burn::prelude::TensorData;
        use burn::tensor::activation::leaky_relu;

        let device = Device::flex().autodiff();
        let inputs = [-3.5f32, -1.0, -1e-3, 0.0, 1e-3, 0.25, 2.0, 40.0];
        let upstream = [1.0f32, -2.0, 0.5, 3.0, -1.0, 4.0, 0.125, -0.75];
        let run = |activation: &dyn Fn(Tensor<1>) -> Tensor<1>| {
            let x = Tensor::<1>::from_data(TensorData::from(inputs), &device).require_grad();
            let weights = Tensor::<1>::from_data(TensorData::from(upstream), &device);
            let y = activation(x.clone());
            let gradients = y.clone().mul(weights).sum().backward();
            let gradient = x.grad(&gradients).unwrap().into_data().try_to_vec::<f32>();
            (
                y.into_data().try_to_vec::<f32>().unwrap(),
                gradient.unwrap(),
            )
        };
        let (ours, our_gradient) = run(&|x| leaky(x));
        let (burn, burn_gradient) = run(&|x| leaky_relu(x, LEAKY_SLOPE));
        for i in 0..inputs.len() {
            assert!(
                (ours[i] - burn[i]).abs() <= 1e-6 * burn[i].abs(),
                "{i}: {ours:?}"
            );
            // At 0 both pass the gradient through unchanged.
            assert!(
                (our_gradient[i] - burn_gradient[i]).abs() <= 1e-6,
                "{i}: {our_gradient:?} against {burn_gradient:?}"
            );
        }
    }

    #[test]
    fn conv_output_shapes() {
        assert_eq!(Architecture::SmallCnn.conv_output_shape(), [64, 4, 4]);
        assert_eq!(Architecture::ClusterGan.conv_output_shape(), [128, 5, 5]);
    }

    #[test]
    fn networks_keep_shapes() {
        let device = Device::flex();
        for architecture in [Architecture::SmallCnn, Architecture::ClusterGan] {
            let model = AutoEncoder::new(architecture, 24, &device);
            let images = Tensor::<4>::zeros([3, 1, 28, 28], &device);
            let features = model.encoder.forward(images);
            assert_eq!(features.dims(), [3, 24]);
            let decoded = model.decoder.forward(features);
            assert_eq!(decoded.dims(), [3, 1, 28, 28]);
        }
    }
}
