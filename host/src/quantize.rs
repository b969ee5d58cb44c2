//! Post-training int8 quantization of an [`EncoderGraph`] into a model file, and the `f32`
//! reference forward pass that the fixed-point engine is checked against.
//!
//! The scheme is the one `model_format` documents. Weights are int8, symmetric, with one scale
//! per output channel. Activations are int8 with one scale and zero point per tensor, and biases
//! are int32. Each LeakyReLU is fused into the requantization of the layer before it, and
//! `-U^T mean` is folded into the projection bias.
//!
//! Activation ranges come from [`calibrate`]: the minimum and maximum of every layer output
//! over all calibration images, widened to contain 0 so that 0 (the convolution padding) is
//! exactly representable. No clipping of outliers is done.

use firmware::Assignment;
use firmware::membership::cosine_distance;
use model_format::{
    Activation, ChannelParams, FormatError, LayerKind, LayerSpec, MAX_ABS_BIAS, ModelSpec,
    ProjectionRow, ProjectionSpec, Requantization,
};
use thiserror::Error;

use crate::graph::{EncoderGraph, Layer};

/// Scale of the input pixels: a byte `p` stands for `p / 255` in `[0, 1]`.
const INPUT_SCALE: f32 = 1.0 / 255.0;

/// Zero point of the int8 input: a byte `p` becomes `p - 128`.
const INPUT_ZERO_POINT: i8 = -128;

/// Largest magnitude of a quantized weight (symmetric range -127..=127).
const WEIGHT_MAX: f64 = 127.0;

/// Error of running or quantizing a graph.
#[derive(Debug, Error)]
pub enum QuantizeError {
    /// The layer sequence cannot be expressed as fused int8 layers.
    #[error("invalid encoder layer {index}: {reason}")]
    InvalidLayer {
        /// Index into `EncoderGraph::layers`.
        index: usize,
        /// Description of the problem.
        reason: &'static str,
    },
    /// A vector of the graph, or an input, has the wrong length.
    #[error("{what} has {actual} values, expected {expected}")]
    LengthMismatch {
        /// Which vector.
        what: &'static str,
        /// Length the shapes require.
        expected: usize,
        /// Length found.
        actual: usize,
    },
    /// A size does not fit the field of the model file that stores it.
    #[error("{what} is {value}, too large for the model file")]
    TooLarge {
        /// Which size.
        what: &'static str,
        /// Value found.
        value: usize,
    },
    /// The cluster count is below 2, or the latent size below `clusters - 1`.
    #[error(
        "{clusters} clusters with latent size {latent_size}: need at least 2 clusters and a \
         latent size of at least clusters - 1"
    )]
    InvalidClusters {
        /// Number of clusters `k`.
        clusters: usize,
        /// Latent size `s`.
        latent_size: usize,
    },
    /// No calibration images were given.
    #[error("calibration needs at least one image")]
    NoCalibrationImages,
    /// The uncertain threshold is not a membership.
    #[error("uncertain threshold {0} is outside [0, 1]")]
    InvalidThreshold(f32),
    /// A requantization multiplier cannot be encoded (it is not finite or at least 2^30).
    #[error(
        "layer {layer}, channel {channel}: requantization multiplier {multiplier:e} out of range"
    )]
    MultiplierOutOfRange {
        /// Index into `EncoderGraph::layers` of the convolution or dense layer.
        layer: usize,
        /// Output channel.
        channel: usize,
        /// The real multiplier.
        multiplier: f64,
    },
    /// A quantized bias exceeds the accumulator headroom of the file format (2^30).
    #[error(
        "{stage}, channel {channel}: quantized bias {bias:e} exceeds 2^30; the bias is too \
         large for the calibrated scales"
    )]
    BiasOutOfRange {
        /// `"layer <i>"` (an index into `EncoderGraph::layers`) or `"projection"`.
        stage: String,
        /// Output channel or projection row.
        channel: usize,
        /// The quantized bias before the range check.
        bias: f64,
    },
    /// The written file did not validate.
    #[error("model file: {0}")]
    Format(#[from] FormatError),
}

/// The operation of a fused layer.
#[derive(Clone, Copy, Debug)]
enum Operation {
    Conv2d {
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    },
    Dense,
}

/// A convolution or dense layer with the LeakyReLU that follows it, if any.
#[derive(Clone, Debug)]
struct FusedLayer<'g> {
    /// Index of the convolution or dense layer in `EncoderGraph::layers`.
    graph_index: usize,
    operation: Operation,
    /// `[out, fan_in]` row-major; conv rows are `[in][kernel_h][kernel_w]`.
    weight: &'g [f32],
    bias: &'g [f32],
    alpha: Option<f32>,
    /// `[channels, height, width]` of the tensor read.
    input: [usize; 3],
    /// `[channels, height, width]` of the tensor written.
    output: [usize; 3],
}

impl FusedLayer<'_> {
    fn fan_in(&self) -> usize {
        self.weight.len() / self.output[0].max(1)
    }
}

/// A validated [`EncoderGraph`] that runs in `f32`: the reference for the int8 engine.
#[derive(Clone, Debug)]
pub struct FloatModel<'g> {
    graph: &'g EncoderGraph,
    layers: Vec<FusedLayer<'g>>,
}

impl<'g> FloatModel<'g> {
    /// Checks every shape and length of `graph` and groups its layers into convolution or dense
    /// layers, each with an optional LeakyReLU.
    ///
    /// # Errors
    ///
    /// [`QuantizeError::InvalidLayer`] for a layer sequence other than convolution or dense
    /// layers, each with an optional LeakyReLU, and a Flatten before the first dense layer that
    /// follows a convolution. [`QuantizeError::InvalidClusters`] for fewer than 2 clusters or a
    /// latent size below `clusters - 1`. [`QuantizeError::LengthMismatch`] for a vector whose
    /// length disagrees with the shapes.
    pub fn new(graph: &'g EncoderGraph) -> Result<Self, QuantizeError> {
        let layers = fuse_layers(graph)?;

        let (s, k) = (graph.latent_size, graph.clusters);
        if k < 2 || s + 1 < k {
            return Err(QuantizeError::InvalidClusters {
                clusters: k,
                latent_size: s,
            });
        }

        let input_len: usize = graph.input_shape.iter().product();
        let feature_size = match layers.last() {
            Some(layer) => layer.output.iter().product(),
            None => input_len,
        };
        check_len("feature_size", feature_size, graph.feature_size)?;
        check_len("mean", feature_size, graph.mean.len())?;
        check_len("projection", s * feature_size, graph.projection.len())?;
        check_len("cluster_codes", k * (k - 1), graph.cluster_codes.len())?;
        check_len("cluster_names", k, graph.cluster_names.len())?;
        check_len("prototypes", k * input_len, graph.prototypes.len())?;
        Ok(FloatModel { graph, layers })
    }

    /// Computes the feature vector `phi(x)` of one image with pixels in `[0, 1]`.
    ///
    /// # Errors
    ///
    /// [`QuantizeError::LengthMismatch`] when `image` does not have the input length.
    pub fn features(&self, image: &[f32]) -> Result<Vec<f32>, QuantizeError> {
        self.forward(image, |_, _| {})
    }

    /// Computes the score vector `e = U^T (phi(x) - mean)` (all `s` entries) of one image.
    ///
    /// # Errors
    ///
    /// As [`features`](Self::features).
    pub fn scores(&self, image: &[f32]) -> Result<Vec<f32>, QuantizeError> {
        let features = self.features(image)?;
        let centered: Vec<f32> = features
            .iter()
            .zip(&self.graph.mean)
            .map(|(&phi, &mean)| phi - mean)
            .collect();
        let scores = self
            .graph
            .projection
            .chunks_exact(centered.len().max(1))
            .map(|row| row.iter().zip(&centered).map(|(&u, &phi)| u * phi).sum())
            .collect();
        Ok(scores)
    }

    /// Assigns one image to a cluster in `f32`, with the same distance and membership code as
    /// the firmware.
    ///
    /// # Errors
    ///
    /// As [`features`](Self::features).
    pub fn assign(
        &self,
        image: &[f32],
        uncertain_threshold: f32,
    ) -> Result<Assignment, QuantizeError> {
        let scores = self.scores(image)?;
        let code_len = self.graph.clusters - 1;
        let distances: Vec<f32> = self
            .graph
            .cluster_codes
            .chunks_exact(code_len)
            .map(|code| cosine_distance(&scores[..code_len], code.iter().copied()))
            .collect();
        Ok(Assignment::from_distances(&distances, uncertain_threshold))
    }

    /// Runs the fused layers, handing each layer's output (after its activation) to `observe`
    /// with the layer's index, and returns the feature vector.
    fn forward(
        &self,
        image: &[f32],
        mut observe: impl FnMut(usize, &[f32]),
    ) -> Result<Vec<f32>, QuantizeError> {
        let input_len: usize = self.graph.input_shape.iter().product();
        if image.len() != input_len {
            let actual = image.len();
            return Err(QuantizeError::LengthMismatch {
                what: "image",
                expected: input_len,
                actual,
            });
        }

        let mut tensor = image.to_vec();
        for (index, layer) in self.layers.iter().enumerate() {
            tensor = match layer.operation {
                Operation::Conv2d {
                    kernel,
                    stride,
                    padding,
                } => conv2d(layer, &tensor, kernel, stride, padding),
                Operation::Dense => dense(layer, &tensor),
            };
            if let Some(alpha) = layer.alpha {
                for value in &mut tensor {
                    *value = value.max(0.0) + alpha * value.min(0.0);
                }
            }
            observe(index, &tensor);
        }
        Ok(tensor)
    }
}

/// Groups the graph's layers into fused layers and checks every shape and weight length.
fn fuse_layers(graph: &EncoderGraph) -> Result<Vec<FusedLayer<'_>>, QuantizeError> {
    let mut fused: Vec<FusedLayer<'_>> = Vec::new();
    let mut shape = graph.input_shape;
    let mut flattened = false;
    // Whether the last fused layer may still take a LeakyReLU.
    let mut open = false;

    for (index, layer) in graph.layers.iter().enumerate() {
        let invalid = |reason| QuantizeError::InvalidLayer { index, reason };
        match layer {
            Layer::Conv2d {
                weight,
                bias,
                in_channels,
                out_channels,
                kernel,
                stride,
                padding,
            } => {
                if flattened {
                    return Err(invalid("convolution after Flatten"));
                }
                if *in_channels != shape[0] {
                    return Err(invalid(
                        "in_channels differs from the channels of its input",
                    ));
                }
                if kernel.contains(&0) || stride.contains(&0) {
                    return Err(invalid("kernel size or stride is 0"));
                }
                let fan_in = in_channels * kernel[0] * kernel[1];
                check_len("Conv2d weight", out_channels * fan_in, weight.len())?;
                check_len("Conv2d bias", *out_channels, bias.len())?;
                let side = |axis: usize| {
                    let padded = shape[axis + 1] + 2 * padding[axis];
                    padded
                        .checked_sub(kernel[axis])
                        .map(|span| span / stride[axis] + 1)
                };
                let (Some(height), Some(width)) = (side(0), side(1)) else {
                    return Err(invalid("kernel larger than the padded input"));
                };
                let output = [*out_channels, height, width];
                let operation = Operation::Conv2d {
                    kernel: *kernel,
                    stride: *stride,
                    padding: *padding,
                };
                fused.push(FusedLayer {
                    graph_index: index,
                    operation,
                    weight,
                    bias,
                    alpha: None,
                    input: shape,
                    output,
                });
                shape = output;
                open = true;
            }
            Layer::Dense {
                weight,
                bias,
                in_features,
                out_features,
            } => {
                let input_len: usize = shape.iter().product();
                if !flattened && (shape[1] != 1 || shape[2] != 1) {
                    return Err(invalid("dense layer on a spatial tensor without Flatten"));
                }
                if *in_features != input_len {
                    return Err(invalid("in_features differs from the length of its input"));
                }
                check_len("Dense weight", out_features * in_features, weight.len())?;
                check_len("Dense bias", *out_features, bias.len())?;
                let output = [*out_features, 1, 1];
                fused.push(FusedLayer {
                    graph_index: index,
                    operation: Operation::Dense,
                    weight,
                    bias,
                    alpha: None,
                    input: shape,
                    output,
                });
                shape = output;
                open = true;
            }
            Layer::LeakyRelu { alpha } => {
                let Some(last) = fused.last_mut().filter(|_| open) else {
                    return Err(invalid(
                        "LeakyReLU does not follow a convolution or dense layer",
                    ));
                };
                if !(0.0..=1.0).contains(alpha) {
                    return Err(invalid("LeakyReLU alpha is outside [0, 1]"));
                }
                last.alpha = Some(*alpha);
                open = false;
            }
            Layer::Flatten => {
                // Channel-major storage is already the flattened order.
                flattened = true;
                open = false;
            }
        }
    }
    Ok(fused)
}

fn check_len(what: &'static str, expected: usize, actual: usize) -> Result<(), QuantizeError> {
    if expected != actual {
        return Err(QuantizeError::LengthMismatch {
            what,
            expected,
            actual,
        });
    }
    Ok(())
}

/// Reference convolution with zero padding.
///
/// # Shapes
///
/// - `input`: `[in, height, width]`
/// - returns `[out, out_height, out_width]`
fn conv2d(
    layer: &FusedLayer<'_>,
    input: &[f32],
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
) -> Vec<f32> {
    let [in_channels, height, width] = layer.input;
    let [out_channels, out_height, out_width] = layer.output;
    let fan_in = layer.fan_in();
    let mut output = vec![0.0f32; out_channels * out_height * out_width];

    for (c, (row, &bias)) in layer
        .weight
        .chunks_exact(fan_in)
        .zip(layer.bias)
        .enumerate()
    {
        for oy in 0..out_height {
            for ox in 0..out_width {
                let mut sum = bias;
                for ci in 0..in_channels {
                    for ky in 0..kernel[0] {
                        let Some(y) = (oy * stride[0] + ky).checked_sub(padding[0]) else {
                            continue;
                        };
                        if y >= height {
                            continue;
                        }
                        for kx in 0..kernel[1] {
                            let Some(x) = (ox * stride[1] + kx).checked_sub(padding[1]) else {
                                continue;
                            };
                            if x >= width {
                                continue;
                            }
                            let weight = row[(ci * kernel[0] + ky) * kernel[1] + kx];
                            sum += weight * input[(ci * height + y) * width + x];
                        }
                    }
                }
                output[(c * out_height + oy) * out_width + ox] = sum;
            }
        }
    }
    output
}

/// Reference dense layer `y = W x + b`.
fn dense(layer: &FusedLayer<'_>, input: &[f32]) -> Vec<f32> {
    let fan_in = layer.fan_in();
    layer
        .weight
        .chunks_exact(fan_in)
        .zip(layer.bias)
        .map(|(row, &bias)| bias + row.iter().zip(input).map(|(&w, &x)| w * x).sum::<f32>())
        .collect()
}

/// Observed value range of one tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    /// Smallest value seen.
    pub min: f32,
    /// Largest value seen.
    pub max: f32,
}

/// Activation ranges of every fused layer output, in layer order, over a calibration set.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    /// One range per convolution or dense layer (after its LeakyReLU).
    pub ranges: Vec<Range>,
}

/// Records the minimum and maximum of every fused layer output over `images`, `n * input_len`
/// pixels in `[0, 1]`.
///
/// # Errors
///
/// [`QuantizeError::NoCalibrationImages`] for an empty set,
/// [`QuantizeError::LengthMismatch`] when the length is not a multiple of the input length.
pub fn calibrate(model: &FloatModel<'_>, images: &[f32]) -> Result<Calibration, QuantizeError> {
    let input_len: usize = model.graph.input_shape.iter().product();
    if images.is_empty() {
        return Err(QuantizeError::NoCalibrationImages);
    }
    if !images.len().is_multiple_of(input_len) {
        let expected = images.len() / input_len * input_len;
        let actual = images.len();
        return Err(QuantizeError::LengthMismatch {
            what: "calibration images",
            expected,
            actual,
        });
    }

    let empty = Range {
        min: f32::INFINITY,
        max: f32::NEG_INFINITY,
    };
    let mut ranges = vec![empty; model.layers.len()];
    for image in images.chunks_exact(input_len) {
        model.forward(image, |index, tensor| {
            let range = &mut ranges[index];
            for &value in tensor {
                range.min = range.min.min(value);
                range.max = range.max.max(value);
            }
        })?;
    }
    Ok(Calibration { ranges })
}

/// Scale and zero point of an int8 tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
struct TensorQuantization {
    scale: f32,
    zero_point: i8,
}

impl TensorQuantization {
    /// Maps `[min, max]`, widened to contain 0, onto -128..=127. Real 0 maps exactly to the
    /// zero point. A tensor that was always 0 gets scale 1.
    fn from_range(range: Range) -> Self {
        let min = f64::from(range.min.min(0.0));
        let max = f64::from(range.max.max(0.0));
        let span = max - min;
        let scale = if span > 0.0 && span.is_finite() {
            (span / 255.0) as f32
        } else {
            1.0
        };
        let zero_point = (-128.0 - min / f64::from(scale))
            .round()
            .clamp(-128.0, 127.0) as i8;
        TensorQuantization { scale, zero_point }
    }
}

/// Quantizes `graph` into a model file description.
///
/// `calibration_images` holds `n * input_len` pixels in `[0, 1]` (training images); they fix
/// the activation ranges (see [`calibrate`]). An assignment whose top membership is below
/// `uncertain_threshold` is reported as uncertain.
///
/// # Errors
///
/// Any [`QuantizeError`]: an invalid graph, an empty calibration set, a threshold outside
/// `[0, 1]`, a multiplier or bias that the file format cannot hold, or a file that fails
/// validation.
pub fn quantize(
    graph: &EncoderGraph,
    calibration_images: &[f32],
    uncertain_threshold: f32,
) -> Result<ModelSpec, QuantizeError> {
    if !(0.0..=1.0).contains(&uncertain_threshold) {
        return Err(QuantizeError::InvalidThreshold(uncertain_threshold));
    }
    let model = FloatModel::new(graph)?;
    let calibration = calibrate(&model, calibration_images)?;

    let mut input = TensorQuantization {
        scale: INPUT_SCALE,
        zero_point: INPUT_ZERO_POINT,
    };
    let (kept_layers, score_map) = score_map(&model);
    let mut layers = Vec::with_capacity(kept_layers);
    for (layer, range) in model
        .layers
        .iter()
        .zip(&calibration.ranges)
        .take(kept_layers)
    {
        let output = TensorQuantization::from_range(*range);
        layers.push(quantize_layer(layer, input, output)?);
        input = output;
    }
    let projection = quantize_projection(&score_map, input)?;

    let [channels, height, width] = graph.input_shape;
    let side = |what, value: usize| {
        u16::try_from(value).map_err(|_| QuantizeError::TooLarge { what, value })
    };
    let spec = ModelSpec {
        input_shape: [
            side("input channels", channels)?,
            side("input height", height)?,
            side("input width", width)?,
        ],
        input_scale: INPUT_SCALE,
        uncertain_threshold,
        layers,
        projection,
        cluster_codes: graph.cluster_codes.clone(),
        cluster_names: graph.cluster_names.clone(),
        prototypes: graph
            .prototypes
            .iter()
            .map(|&p| (p * 255.0).round().clamp(0.0, 255.0) as u8)
            .collect(),
    };
    // Validate now, so that a spec this function returns always writes.
    spec.to_bytes()?;
    Ok(spec)
}

/// Quantizes one fused layer that reads a tensor quantized as `input` and writes one quantized
/// as `output`.
fn quantize_layer(
    layer: &FusedLayer<'_>,
    input: TensorQuantization,
    output: TensorQuantization,
) -> Result<LayerSpec, QuantizeError> {
    let fan_in = layer.fan_in();
    let mut channels = Vec::with_capacity(layer.output[0]);
    let mut weights = Vec::with_capacity(layer.weight.len());

    for (channel, (row, &bias)) in layer
        .weight
        .chunks_exact(fan_in)
        .zip(layer.bias)
        .enumerate()
    {
        let row: Vec<f64> = row.iter().map(|&w| f64::from(w)).collect();
        let (weight_scale, quantized) = quantize_row(&row);
        weights.extend_from_slice(&quantized);

        let accumulator_scale = f64::from(input.scale) * f64::from(weight_scale);
        let weight_sum: i64 = quantized.iter().map(|&w| i64::from(w)).sum();
        let bias = (f64::from(bias) / accumulator_scale).round()
            - (i64::from(input.zero_point) * weight_sum) as f64;
        let bias = checked_bias(bias, || format!("layer {}", layer.graph_index), channel)?;

        let multiplier = accumulator_scale / f64::from(output.scale);
        let encode = |real: f64| {
            Requantization::from_real(real).ok_or(QuantizeError::MultiplierOutOfRange {
                layer: layer.graph_index,
                channel,
                multiplier: real,
            })
        };
        let positive = encode(multiplier)?;
        let negative = match layer.alpha {
            Some(alpha) => encode(f64::from(alpha) * multiplier)?,
            None => positive,
        };
        channels.push(ChannelParams {
            bias,
            weight_scale,
            positive,
            negative,
        });
    }

    let too_large = |what, value| QuantizeError::TooLarge { what, value };
    let narrow = |what, value: usize| u16::try_from(value).map_err(|_| too_large(what, value));
    let byte = |what, value: usize| u8::try_from(value).map_err(|_| too_large(what, value));
    let (kind, in_channels) = match layer.operation {
        Operation::Conv2d {
            kernel,
            stride,
            padding,
        } => {
            let kind = LayerKind::Conv2d {
                kernel: [byte("kernel", kernel[0])?, byte("kernel", kernel[1])?],
                stride: [byte("stride", stride[0])?, byte("stride", stride[1])?],
                padding: [byte("padding", padding[0])?, byte("padding", padding[1])?],
            };
            (kind, layer.input[0])
        }
        Operation::Dense => (LayerKind::Dense, fan_in),
    };
    let activation = match layer.alpha {
        Some(alpha) => Activation::LeakyRelu { alpha },
        None => Activation::None,
    };
    Ok(LayerSpec {
        kind,
        activation,
        in_channels: narrow("input channels", in_channels)?,
        out_channels: narrow("output channels", layer.output[0])?,
        output_scale: output.scale,
        output_zero_point: output.zero_point,
        channels,
        weights,
    })
}

/// The scores as an affine map of the last int8 tensor `x`: `e = matrix (x - center) + offset`,
/// with `matrix` in `[rows, columns]` row-major order.
struct ScoreMap {
    columns: usize,
    matrix: Vec<f64>,
    center: Vec<f64>,
    offset: Vec<f64>,
}

/// Returns how many fused layers stay int8 layers, and the map from their output to the scores.
///
/// A last dense layer without activation is linear, so it folds into the projection:
/// `e = U^T (W h + b - mean) = (U^T W) h + U^T (b - mean)`. That saves the int8 rounding of the
/// features and, when `s` is smaller than the layer's output, multiply-accumulates. Otherwise
/// the map is `U^T (phi - mean)` itself.
fn score_map(model: &FloatModel<'_>) -> (usize, ScoreMap) {
    let graph = model.graph;
    let feature_size = graph.mean.len();
    let projection_rows = graph.projection.chunks_exact(feature_size.max(1));

    match model.layers.last() {
        Some(last) if last.alpha.is_none() && matches!(last.operation, Operation::Dense) => {
            let columns = last.fan_in();
            let mut matrix = Vec::with_capacity(graph.latent_size * columns);
            let mut offset = Vec::with_capacity(graph.latent_size);
            for u_row in projection_rows {
                let mut row = vec![0.0f64; columns];
                let mut row_offset = 0.0f64;
                // Feature j contributes u[j] * (W[j, :] h + b[j] - mean[j]).
                let features = last
                    .weight
                    .chunks_exact(columns)
                    .zip(last.bias)
                    .zip(&graph.mean);
                for (&u, ((w_row, &bias), &mean)) in u_row.iter().zip(features) {
                    let u = f64::from(u);
                    row_offset += u * (f64::from(bias) - f64::from(mean));
                    for (value, &w) in row.iter_mut().zip(w_row) {
                        *value += u * f64::from(w);
                    }
                }
                matrix.extend(row);
                offset.push(row_offset);
            }
            let center = vec![0.0; columns];
            let map = ScoreMap {
                columns,
                matrix,
                center,
                offset,
            };
            (model.layers.len() - 1, map)
        }
        _ => {
            let map = ScoreMap {
                columns: feature_size,
                matrix: graph.projection.iter().map(|&u| f64::from(u)).collect(),
                center: graph.mean.iter().map(|&m| f64::from(m)).collect(),
                offset: vec![0.0; graph.latent_size],
            };
            (model.layers.len(), map)
        }
    }
}

/// Quantizes the score map row by row and folds its center, its offset and the zero point of
/// the int8 tensor it reads into the biases.
///
/// The center is multiplied by the dequantized rows, so the engine computes `M_q (x - center)`
/// with one consistent `M_q` instead of `M_q x - M center`, which matters when the center is
/// large next to the spread of `x`.
fn quantize_projection(
    map: &ScoreMap,
    features: TensorQuantization,
) -> Result<ProjectionSpec, QuantizeError> {
    let mut rows = Vec::with_capacity(map.offset.len());
    let mut weights = Vec::with_capacity(map.matrix.len());

    let matrix_rows = map.matrix.chunks_exact(map.columns.max(1));
    for (r, (row, &offset)) in matrix_rows.zip(&map.offset).enumerate() {
        let (weight_scale, quantized) = quantize_row(row);
        let score_scale = (f64::from(features.scale) * f64::from(weight_scale)) as f32;

        let centering: f64 = quantized
            .iter()
            .zip(&map.center)
            .map(|(&w, &center)| f64::from(weight_scale) * f64::from(w) * center)
            .sum();
        let weight_sum: i64 = quantized.iter().map(|&w| i64::from(w)).sum();
        let bias = ((offset - centering) / f64::from(score_scale)).round()
            - (i64::from(features.zero_point) * weight_sum) as f64;
        let bias = checked_bias(bias, || "projection".to_string(), r)?;

        rows.push(ProjectionRow { bias, score_scale });
        weights.extend_from_slice(&quantized);
    }
    Ok(ProjectionSpec { rows, weights })
}

/// Symmetric per-row weight quantization: `scale = max |w| / 127`, `q = round(w / scale)`.
/// An all-zero row gets scale 1.
fn quantize_row(row: &[f64]) -> (f32, Vec<i8>) {
    let max_abs = row.iter().fold(0.0f64, |max, &w| max.max(w.abs()));
    let scale = if max_abs > 0.0 && max_abs.is_finite() {
        (max_abs / WEIGHT_MAX) as f32
    } else {
        1.0
    };
    let quantized = row
        .iter()
        .map(|&w| {
            (w / f64::from(scale))
                .round()
                .clamp(-WEIGHT_MAX, WEIGHT_MAX) as i8
        })
        .collect();
    (scale, quantized)
}

fn checked_bias(
    bias: f64,
    stage: impl FnOnce() -> String,
    channel: usize,
) -> Result<i32, QuantizeError> {
    if bias.is_finite() && bias.abs() <= f64::from(MAX_ABS_BIAS) {
        Ok(bias as i32)
    } else {
        Err(QuantizeError::BiasOutOfRange {
            stage: stage(),
            channel,
            bias,
        })
    }
}

#[cfg(test)]
mod tests {
    use firmware::Engine;
    use model_format::Model;

    use super::*;

    /// Xorshift64: seeded test data without a `rand` dependency.
    struct Xorshift(u64);

    impl Xorshift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        /// Uniform in `[low, high)`.
        fn uniform(&mut self, low: f32, high: f32) -> f32 {
            let unit = (self.next() >> 40) as f32 / (1u64 << 24) as f32;
            low + (high - low) * unit
        }

        /// Approximately standard normal (sum of 12 uniforms).
        fn normal(&mut self) -> f32 {
            (0..12).map(|_| self.uniform(0.0, 1.0)).sum::<f32>() - 6.0
        }
    }

    /// He-style uniform initialisation: weights in `±sqrt(6 / fan_in)`, biases in `±0.05`.
    fn conv(
        rng: &mut Xorshift,
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Layer {
        let fan_in = in_channels * kernel * kernel;
        let limit = (6.0 / fan_in as f32).sqrt();
        Layer::Conv2d {
            weight: (0..out_channels * fan_in)
                .map(|_| rng.uniform(-limit, limit))
                .collect(),
            bias: (0..out_channels)
                .map(|_| rng.uniform(-0.05, 0.05))
                .collect(),
            in_channels,
            out_channels,
            kernel: [kernel; 2],
            stride: [stride; 2],
            padding: [padding; 2],
        }
    }

    fn dense(rng: &mut Xorshift, in_features: usize, out_features: usize) -> Layer {
        let limit = (6.0 / in_features as f32).sqrt();
        Layer::Dense {
            weight: (0..out_features * in_features)
                .map(|_| rng.uniform(-limit, limit))
                .collect(),
            bias: (0..out_features)
                .map(|_| rng.uniform(-0.05, 0.05))
                .collect(),
            in_features,
            out_features,
        }
    }

    /// Rows of a random `rows x columns` matrix, orthonormalised by Gram-Schmidt.
    fn orthonormal_rows(rng: &mut Xorshift, rows: usize, columns: usize) -> Vec<f32> {
        let mut basis: Vec<Vec<f32>> = Vec::new();
        while basis.len() < rows {
            let mut row: Vec<f32> = (0..columns).map(|_| rng.normal()).collect();
            for previous in &basis {
                let dot: f32 = row.iter().zip(previous).map(|(a, b)| a * b).sum();
                row.iter_mut()
                    .zip(previous)
                    .for_each(|(a, b)| *a -= dot * b);
            }
            let norm = row.iter().map(|a| a * a).sum::<f32>().sqrt();
            if norm > 1e-3 {
                basis.push(row.iter().map(|a| a / norm).collect());
            }
        }
        basis.concat()
    }

    /// Returns the unit simplex codes of 3 clusters in the plane.
    fn simplex3() -> Vec<f32> {
        [90.0f32, 210.0, 330.0]
            .iter()
            .flat_map(|degrees| {
                let radians = degrees.to_radians();
                [radians.cos(), radians.sin()]
            })
            .collect()
    }

    /// Builds an encoder with the mnist012 shapes, random weights, a random orthonormal `U^T`
    /// (10 x 64) and a zero mean.
    fn mnist012_graph(rng: &mut Xorshift) -> EncoderGraph {
        let leaky = || Layer::LeakyRelu { alpha: 0.2 };
        let layers = vec![
            conv(rng, 1, 16, 4, 2, 1),
            leaky(),
            conv(rng, 16, 32, 4, 2, 1),
            leaky(),
            conv(rng, 32, 64, 3, 2, 1),
            leaky(),
            Layer::Flatten,
            dense(rng, 1024, 64),
            leaky(),
            dense(rng, 64, 64),
        ];
        EncoderGraph {
            input_shape: [1, 28, 28],
            layers,
            feature_size: 64,
            mean: vec![0.0; 64],
            projection: orthonormal_rows(rng, 10, 64),
            latent_size: 10,
            clusters: 3,
            cluster_codes: simplex3(),
            cluster_names: vec!["zero".into(), "one".into(), "two".into()],
            prototypes: (0..3 * 784).map(|_| rng.uniform(0.0, 1.0)).collect(),
        }
    }

    /// Draws a 28x28 image of one to three soft strokes, roughly like a handwritten digit.
    fn stroke_image(rng: &mut Xorshift) -> Vec<u8> {
        let mut pixels = [0.0f32; 784];
        let strokes = 1 + rng.next() % 3;
        for _ in 0..strokes {
            let start = [rng.uniform(4.0, 24.0), rng.uniform(4.0, 24.0)];
            let end = [rng.uniform(4.0, 24.0), rng.uniform(4.0, 24.0)];
            let width = rng.uniform(1.0, 2.5);
            let direction = [end[0] - start[0], end[1] - start[1]];
            let length2 = (direction[0] * direction[0] + direction[1] * direction[1]).max(1e-6);
            for y in 0..28 {
                for x in 0..28 {
                    let offset = [x as f32 - start[0], y as f32 - start[1]];
                    let along = (offset[0] * direction[0] + offset[1] * direction[1]) / length2;
                    let t = along.clamp(0.0, 1.0);
                    let dx = offset[0] - t * direction[0];
                    let dy = offset[1] - t * direction[1];
                    let value = (-(dx * dx + dy * dy) / (width * width)).exp();
                    pixels[y * 28 + x] = pixels[y * 28 + x].max(value);
                }
            }
        }
        pixels.iter().map(|&p| (p * 255.0).round() as u8).collect()
    }

    fn to_unit(images: &[u8]) -> Vec<f32> {
        images.iter().map(|&p| f32::from(p) / 255.0).collect()
    }

    /// Builds the mnist012-shaped graph with its mean set to the mean feature of `calibration`.
    fn centered_graph(rng: &mut Xorshift, calibration: &[f32]) -> EncoderGraph {
        let mut graph = mnist012_graph(rng);
        let model = FloatModel::new(&graph).unwrap();
        let mut mean = vec![0.0f32; 64];
        let images = calibration.len() / 784;
        for image in calibration.chunks_exact(784) {
            let features = model.features(image).unwrap();
            mean.iter_mut()
                .zip(&features)
                .for_each(|(m, f)| *m += f / images as f32);
        }
        graph.mean = mean;
        graph
    }

    fn random_images(rng: &mut Xorshift, count: usize) -> Vec<u8> {
        (0..count).flat_map(|_| stroke_image(rng)).collect()
    }

    #[test]
    fn float_forward_of_hand_computed_graph() {
        // Input 1x3x3; conv 1->1, kernel 2, weights [1, 0, 0, 1], bias 0.5 gives
        // x[i, j] + x[i + 1, j + 1] + 0.5 on a 2x2 grid; LeakyReLU(0.5); flatten; dense 4->2.
        let graph = EncoderGraph {
            input_shape: [1, 3, 3],
            layers: vec![
                Layer::Conv2d {
                    weight: vec![1.0, 0.0, 0.0, 1.0],
                    bias: vec![0.5],
                    in_channels: 1,
                    out_channels: 1,
                    kernel: [2, 2],
                    stride: [1, 1],
                    padding: [0, 0],
                },
                Layer::LeakyRelu { alpha: 0.5 },
                Layer::Flatten,
                Layer::Dense {
                    weight: vec![1.0, 1.0, 1.0, 1.0, 1.0, -1.0, 0.0, 0.0],
                    bias: vec![0.0, 1.0],
                    in_features: 4,
                    out_features: 2,
                },
            ],
            feature_size: 2,
            mean: vec![1.0, 0.0],
            projection: vec![1.0, 0.0, 0.0, 1.0],
            latent_size: 2,
            clusters: 2,
            cluster_codes: vec![1.0, -1.0],
            cluster_names: vec!["a".into(), "b".into()],
            prototypes: vec![0.0; 18],
        };
        let image = [0.0, 0.1, 0.2, 0.3, -2.0, 0.5, 0.6, 0.7, 0.8];
        let model = FloatModel::new(&graph).unwrap();

        // conv: [0 - 2 + 0.5, 0.1 + 0.5 + 0.5, 0.3 + 0.7 + 0.5, -2 + 0.8 + 0.5]
        //     = [-1.5, 1.1, 1.5, -0.7]; LeakyReLU(0.5): [-0.75, 1.1, 1.5, -0.35]
        // dense: [sum, first - second + 1] = [1.5, -0.75 - 1.1 + 1] = [1.5, -0.85]
        let features = model.features(&image).unwrap();
        assert!((features[0] - 1.5).abs() < 1e-6, "{features:?}");
        assert!((features[1] + 0.85).abs() < 1e-6, "{features:?}");

        let scores = model.scores(&image).unwrap();
        assert!((scores[0] - 0.5).abs() < 1e-6, "{scores:?}");
        assert!((scores[1] + 0.85).abs() < 1e-6, "{scores:?}");

        let assignment = model.assign(&image, 0.5).unwrap();
        assert_eq!(assignment.cluster, 0);
        assert_eq!(assignment.strength(), 1.0);
    }

    #[test]
    fn float_model_rejects_leaky_relu_first() {
        let mut graph = mnist012_graph(&mut Xorshift(1));
        graph.layers.insert(0, Layer::LeakyRelu { alpha: 0.2 });
        let error = FloatModel::new(&graph).unwrap_err();
        assert!(
            matches!(error, QuantizeError::InvalidLayer { index: 0, .. }),
            "{error}"
        );
    }

    #[test]
    fn float_model_rejects_two_leaky_relus() {
        let mut graph = mnist012_graph(&mut Xorshift(2));
        graph.layers.insert(2, Layer::LeakyRelu { alpha: 0.2 });
        let error = FloatModel::new(&graph).unwrap_err();
        assert!(
            matches!(error, QuantizeError::InvalidLayer { index: 2, .. }),
            "{error}"
        );
    }

    #[test]
    fn float_model_rejects_dense_without_flatten() {
        let mut graph = mnist012_graph(&mut Xorshift(3));
        graph.layers.remove(6);
        let error = FloatModel::new(&graph).unwrap_err();
        assert!(
            matches!(error, QuantizeError::InvalidLayer { index: 6, .. }),
            "{error}"
        );
    }

    #[test]
    fn float_model_rejects_short_weights() {
        let mut graph = mnist012_graph(&mut Xorshift(4));
        if let Layer::Dense { weight, .. } = &mut graph.layers[9] {
            weight.pop();
        }
        let error = FloatModel::new(&graph).unwrap_err();
        assert!(
            matches!(
                error,
                QuantizeError::LengthMismatch {
                    what: "Dense weight",
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn float_model_rejects_wrong_mean_length() {
        let mut graph = mnist012_graph(&mut Xorshift(5));
        graph.mean.push(0.0);
        let error = FloatModel::new(&graph).unwrap_err();
        let expected = QuantizeError::LengthMismatch {
            what: "mean",
            expected: 64,
            actual: 65,
        };
        assert_eq!(error.to_string(), expected.to_string());
    }

    #[test]
    fn tensor_quantization_represents_zero_exactly() {
        for (min, max) in [
            (0.0, 6.0),
            (-1.0, 3.0),
            (0.5, 2.0),
            (-4.0, -1.0),
            (0.0, 0.0),
        ] {
            let quantization = TensorQuantization::from_range(Range { min, max });
            let zero_point = f32::from(quantization.zero_point);
            let lowest = quantization.scale * (-128.0 - zero_point);
            let highest = quantization.scale * (127.0 - zero_point);
            assert!(
                lowest <= min.min(0.0) + 1e-6,
                "{min}..{max}: {quantization:?}"
            );
            assert!(highest >= max.max(0.0) - quantization.scale, "{min}..{max}");
        }
    }

    #[test]
    fn quantize_rejects_bad_inputs() {
        let graph = mnist012_graph(&mut Xorshift(6));
        let images = to_unit(&random_images(&mut Xorshift(7), 2));
        let threshold = quantize(&graph, &images, 1.5).unwrap_err();
        assert!(
            matches!(threshold, QuantizeError::InvalidThreshold(_)),
            "{threshold}"
        );
        let empty = quantize(&graph, &[], 0.5).unwrap_err();
        assert!(
            matches!(empty, QuantizeError::NoCalibrationImages),
            "{empty}"
        );
        let ragged = quantize(&graph, &images[..1000], 0.5).unwrap_err();
        assert!(
            matches!(ragged, QuantizeError::LengthMismatch { .. }),
            "{ragged}"
        );
    }

    #[test]
    fn quantized_file_round_trips() {
        let mut rng = Xorshift(0x5EED_0101);
        let calibration = to_unit(&random_images(&mut rng, 64));
        let graph = centered_graph(&mut rng, &calibration);
        let spec = quantize(&graph, &calibration, 0.6).unwrap();

        let bytes = spec.to_bytes().unwrap();
        let model = Model::parse(&bytes).unwrap();
        assert_eq!(model.to_spec(), spec);
        // The last dense layer (64 -> 64, no activation) is folded into the projection.
        assert_eq!(model.layer_count(), 4);
        assert_eq!(model.feature_size(), 64);
        assert_eq!(model.latent_size(), 10);
        assert_eq!(model.clusters(), 3);
        assert_eq!(model.cluster_name(2), Some("two"));
        assert_eq!(model.uncertain_threshold(), 0.6);
        // The 16x14x14 output of the first convolution as the activation buffer, plus the
        // working memory of the second convolution: its padded input and a block of widened
        // patches (see the firmware section of BENCHMARKS.md).
        let engine = Engine::new(model);
        assert_eq!(engine.scratch_len(), 3136 + 14_342);
    }

    /// With these seeds the int8 engine picks the f32 cluster for 984 of 1000 images, with a
    /// top-membership MAE of 0.018 and a relative RMS score error of 3.8%. Most of the error
    /// comes from the per-tensor min/max activation ranges: stroke images are mostly background,
    /// so the first layer's outputs are small next to its range (1.8% relative RMS error there).
    #[test]
    fn fixed_point_agrees_with_float() {
        let mut rng = Xorshift(0x5EED_0102);
        let calibration = to_unit(&random_images(&mut rng, 200));
        let graph = centered_graph(&mut rng, &calibration);
        let float_model = FloatModel::new(&graph).unwrap();
        let spec = quantize(&graph, &calibration, 0.5).unwrap();
        let bytes = spec.to_bytes().unwrap();
        let engine = Engine::new(Model::parse(&bytes).unwrap());
        let mut scratch = vec![0i8; engine.scratch_len()];

        let trials = 1000;
        let images = random_images(&mut rng, trials);
        let mut agree = 0;
        let mut strength_error = 0.0f64;
        let mut max_strength_error = 0.0f64;
        let mut score_error = 0.0f64;
        let mut score_norm = 0.0f64;
        for image in images.chunks_exact(784) {
            let unit = to_unit(image);
            let expected = float_model.assign(&unit, 0.5).unwrap();
            let actual = engine.assign(image, &mut scratch).unwrap();
            agree += usize::from(actual.cluster == expected.cluster);
            let error = f64::from((actual.strength() - expected.strength()).abs());
            strength_error += error;
            max_strength_error = max_strength_error.max(error);

            let expected_scores = float_model.scores(&unit).unwrap();
            let mut actual_scores = [0.0f32; 10];
            engine
                .scores(image, &mut scratch, &mut actual_scores)
                .unwrap();
            for (a, e) in actual_scores.iter().zip(&expected_scores) {
                score_error += f64::from(a - e).powi(2);
                score_norm += f64::from(*e).powi(2);
            }
        }

        let agreement = agree as f64 / trials as f64;
        let mae = strength_error / trials as f64;
        let relative_score_error = (score_error / score_norm).sqrt();
        println!(
            "int8 vs f32 on {trials} stroke images: cluster agreement {agreement:.3}, \
             top-membership MAE {mae:.4} (max {max_strength_error:.4}), \
             relative RMS score error {relative_score_error:.4}"
        );
        assert!(agreement >= 0.95, "cluster agreement {agreement}");
        assert!(mae < 0.03, "top-membership MAE {mae}");
    }
}
