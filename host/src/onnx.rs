//! ONNX models of the encoder and the decoder, built from their `f32` graphs.
//!
//! The models use the standard `ai.onnx` operator set, version [`OPSET`], and the protobuf
//! types that `tract-onnx` generates from the ONNX schema (`tract_onnx::pb`). Both have a
//! dynamic batch dimension `N`.
//!
//! `encoder.onnx`
//! - input `image`: f32 `[N, 1, 28, 28]`, pixels in `[0, 1]`
//! - output `scores`: f32 `[N, s]`, `e = U^T (phi(x) - mean)`
//! - output `membership`: f32 `[N, k]`, the soft kernel spectral clustering membership
//!   `cm_c = prod_{j != c} d_j / sum_l prod_{j != l} d_j` with `d_c = 1 - e'.s_c / |e'|`, where
//!   `e'` contains the first `k - 1` scores and `s_c` are the unit cluster codes
//! - output `cluster`: int64 `[N]`, `argmin_c d_c`, the first one on ties
//!
//! `decoder.onnx`
//! - input `scores`: f32 `[N, s]`
//! - output `image`: f32 `[N, 1, 28, 28]`, `psi(U e)`

use prost::Message;
use thiserror::Error;
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::{Dimension, dimension};
use tract_onnx::pb::type_proto;
use tract_onnx::pb::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

use crate::graph::{DecoderGraph, DecoderLayer, EncoderGraph, Layer};
use crate::quantize::{FloatModel, QuantizeError};

/// Version of the default `ai.onnx` operator set the models import.
pub const OPSET: i64 = 17;

/// ONNX IR version 8, the one released with opset 17 (ONNX 1.12).
const IR_VERSION: i64 = 8;

/// Name of the dynamic batch dimension.
const BATCH: &str = "N";

/// Smallest norm of `e'` the membership divides by. A zero `e'` then has cosine 0 to every
/// code, as in the firmware, instead of 0 / 0.
const MIN_NORM: f32 = 1e-12;

/// Error of building an ONNX model from a graph.
#[derive(Debug, Error)]
pub enum OnnxError {
    /// The encoder graph failed validation.
    #[error("invalid encoder graph: {0}")]
    Encoder(#[from] QuantizeError),
    /// The decoder graph is inconsistent.
    #[error("invalid decoder graph: {0}")]
    Decoder(String),
}

/// Builds `encoder.onnx` from `graph`.
///
/// # Errors
///
/// [`OnnxError::Encoder`] when the graph's shapes or lengths are inconsistent.
pub fn encoder_model(graph: &EncoderGraph) -> Result<ModelProto, OnnxError> {
    FloatModel::new(graph)?;
    let mut builder = GraphBuilder::default();
    let [channels, height, width] = graph.input_shape;
    let image = "image".to_string();
    builder.input(&image, DataType::Float, &[channels, height, width]);

    let features = encoder_layers(&mut builder, graph, image);
    let scores = scores(&mut builder, graph, &features);
    membership(&mut builder, graph, &scores);

    let (s, k) = (graph.latent_size, graph.clusters);
    builder.output("scores", DataType::Float, &[s]);
    builder.output("membership", DataType::Float, &[k]);
    builder.output("cluster", DataType::Int64, &[]);

    let names = serde_json::to_string(&graph.cluster_names).expect("names serialize");
    let metadata = [("cluster_names", names), ("latent_size", s.to_string())];
    let doc = "GenKSC encoder: image -> scores U^T (phi(x) - mean), soft kernel spectral \
               clustering membership and cluster";
    Ok(builder.finish("genksc_encoder", doc, &metadata))
}

/// Adds the convolution, LeakyReLU, Flatten and dense nodes and returns the name of the
/// feature tensor `phi(x)`, `[N, d_f]`.
fn encoder_layers(builder: &mut GraphBuilder, graph: &EncoderGraph, image: String) -> String {
    let mut x = image;
    let (mut convs, mut denses) = (0, 0);
    let last_weighted = graph
        .layers
        .iter()
        .rposition(|layer| matches!(layer, Layer::Conv2d { .. } | Layer::Dense { .. }));
    for (index, layer) in graph.layers.iter().enumerate() {
        x = match layer {
            Layer::Conv2d {
                weight,
                bias,
                in_channels,
                out_channels,
                kernel,
                stride,
                padding,
            } => {
                convs += 1;
                let name = format!("conv{convs}");
                let dims = [*out_channels, *in_channels, kernel[0], kernel[1]];
                let conv = ConvAttributes {
                    kernel: *kernel,
                    stride: *stride,
                    padding: *padding,
                };
                builder.conv("Conv", &name, &x, (weight, &dims), bias, conv)
            }
            Layer::Dense {
                weight,
                bias,
                in_features,
                out_features,
            } => {
                denses += 1;
                let name = if Some(index) == last_weighted {
                    "features".to_string()
                } else {
                    format!("dense{denses}")
                };
                builder.gemm(&name, &x, weight, bias, [*out_features, *in_features])
            }
            Layer::LeakyRelu { alpha } => builder.leaky_relu(&x, *alpha),
            Layer::Flatten => {
                let name = "flatten".to_string();
                builder.node("Flatten", &name, &[&x], vec![int("axis", 1)])
            }
        };
    }
    x
}

/// Adds the centering and the projection and returns `scores`, `[N, s]`.
fn scores(builder: &mut GraphBuilder, graph: &EncoderGraph, features: &str) -> String {
    let (d_f, s) = (graph.feature_size, graph.latent_size);
    let mean = builder.f32_initializer("feature_mean", &[d_f], &graph.mean);
    let centered = builder.node("Sub", "centered_features", &[features, &mean], vec![]);
    // The graph stores U^T as [s, d_f]; MatMul wants U, [d_f, s].
    let u: Vec<f32> = (0..d_f)
        .flat_map(|f| (0..s).map(move |j| graph.projection[j * d_f + f]))
        .collect();
    let u = builder.f32_initializer("projection", &[d_f, s], &u);
    builder.node("MatMul", "scores", &[&centered, &u], vec![])
}

/// Adds the cosine distances to the cluster codes, the memberships and the hard assignment.
fn membership(builder: &mut GraphBuilder, graph: &EncoderGraph, scores: &str) {
    let k = graph.clusters;
    let code_len = k - 1;

    // [N, s] -> [N, k - 1]
    let starts = builder.i64_initializer("cluster_scores_starts", &[1], &[0]);
    let ends = builder.i64_initializer("cluster_scores_ends", &[1], &[code_len as i64]);
    let axes = builder.i64_initializer("cluster_scores_axes", &[1], &[1]);
    let inputs = [scores, &starts, &ends, &axes];
    let cluster_scores = builder.node("Slice", "cluster_scores", &inputs, vec![]);

    // [N, k - 1] x [k - 1, k] -> [N, k]: e'.s_c for unit codes s_c.
    let codes_t: Vec<f32> = (0..code_len)
        .flat_map(|j| (0..k).map(move |c| graph.cluster_codes[c * code_len + j]))
        .collect();
    let codes_t = builder.f32_initializer("cluster_codes", &[code_len, k], &codes_t);
    let dots = builder.node("MatMul", "code_dots", &[&cluster_scores, &codes_t], vec![]);

    // |e'|, [N, 1], at least MIN_NORM.
    let attributes = vec![ints("axes", &[1]), int("keepdims", 1)];
    let norm = builder.node(
        "ReduceL2",
        "cluster_score_norm",
        &[&cluster_scores],
        attributes,
    );
    let min_norm = builder.f32_initializer("min_norm", &[], &[MIN_NORM]);
    let norm = builder.node(
        "Max",
        "cluster_score_norm_clamped",
        &[&norm, &min_norm],
        vec![],
    );
    let cosine = builder.node("Div", "cosine", &[&dots, &norm], vec![]);

    // d_c = max(1 - cosine, 0), as in the firmware.
    let one = builder.f32_initializer("one", &[], &[1.0]);
    let distances = builder.node("Sub", "cosine_distance", &[&one, &cosine], vec![]);
    let distances = builder.node("Relu", "distances", &[&distances], vec![]);

    // others[n, c, j] = d[n, j] for j != c and 1 for j == c, [N, k, k].
    let unsqueeze_axes = builder.i64_initializer("distances_axes", &[1], &[1]);
    let rows = builder.node(
        "Unsqueeze",
        "distance_rows",
        &[&distances, &unsqueeze_axes],
        vec![],
    );
    let identity: Vec<f32> = (0..k * k)
        .map(|i| f32::from(u8::from(i % (k + 1) == 0)))
        .collect();
    let off_diagonal: Vec<f32> = identity.iter().map(|v| 1.0 - v).collect();
    let off_diagonal = builder.f32_initializer("off_diagonal", &[k, k], &off_diagonal);
    let identity = builder.f32_initializer("identity", &[k, k], &identity);
    let masked = builder.node(
        "Mul",
        "other_distances_masked",
        &[&rows, &off_diagonal],
        vec![],
    );
    let others = builder.node("Add", "other_distances", &[&masked, &identity], vec![]);

    // prod_{j != c} d_j, [N, k], normalised over c.
    let attributes = vec![ints("axes", &[2]), int("keepdims", 0)];
    let products = builder.node("ReduceProd", "distance_products", &[&others], attributes);
    let sum_axes = builder.i64_initializer("membership_axes", &[1], &[1]);
    let total_inputs = [products.as_str(), sum_axes.as_str()];
    let attributes = vec![int("keepdims", 1)];
    let total = builder.node(
        "ReduceSum",
        "distance_products_sum",
        &total_inputs,
        attributes,
    );
    builder.node("Div", "membership", &[&products, &total], vec![]);

    let attributes = vec![int("axis", 1), int("keepdims", 0)];
    builder.node("ArgMin", "cluster", &[&distances], attributes);
}

/// Builds `decoder.onnx` from `graph`.
///
/// # Errors
///
/// [`OnnxError::Decoder`] when a vector's length disagrees with the layer shapes.
pub fn decoder_model(graph: &DecoderGraph) -> Result<ModelProto, OnnxError> {
    check_decoder(graph)?;
    let mut builder = GraphBuilder::default();
    let (s, d_f) = (graph.latent_size, graph.feature_size);
    builder.input("scores", DataType::Float, &[s]);

    // [N, s] x [s, d_f] -> [N, d_f]; the graph stores U as [d_f, s].
    let u_t: Vec<f32> = (0..s)
        .flat_map(|j| (0..d_f).map(move |f| graph.projection[f * s + j]))
        .collect();
    let u_t = builder.f32_initializer("projection_transposed", &[s, d_f], &u_t);
    let mut x = builder.node("MatMul", "features", &["scores", &u_t], vec![]);

    let (mut denses, mut deconvs) = (0, 0);
    let last = graph.layers.len().saturating_sub(1);
    for (index, layer) in graph.layers.iter().enumerate() {
        x = match layer {
            DecoderLayer::Dense {
                weight,
                bias,
                in_features,
                out_features,
            } => {
                denses += 1;
                let name = format!("decoder_dense{denses}");
                builder.gemm(&name, &x, weight, bias, [*out_features, *in_features])
            }
            DecoderLayer::Reshape { shape } => {
                let [c, h, w] = shape.map(|side| side as i64);
                let target = builder.i64_initializer("grid_shape", &[4], &[-1, c, h, w]);
                builder.node("Reshape", "grid", &[&x, &target], vec![])
            }
            DecoderLayer::ConvTranspose2d {
                weight,
                bias,
                in_channels,
                out_channels,
                kernel,
                stride,
                padding,
            } => {
                deconvs += 1;
                let name = format!("deconv{deconvs}");
                let dims = [*in_channels, *out_channels, kernel[0], kernel[1]];
                let conv = ConvAttributes {
                    kernel: *kernel,
                    stride: *stride,
                    padding: *padding,
                };
                builder.conv("ConvTranspose", &name, &x, (weight, &dims), bias, conv)
            }
            DecoderLayer::LeakyRelu { alpha } => builder.leaky_relu(&x, *alpha),
            DecoderLayer::Relu => {
                let name = format!("{x}_relu");
                builder.node("Relu", &name, &[&x], vec![])
            }
            DecoderLayer::Sigmoid => {
                let name = if index == last {
                    "image".to_string()
                } else {
                    format!("{x}_sigmoid")
                };
                builder.node("Sigmoid", &name, &[&x], vec![])
            }
        };
    }
    if x != "image" {
        return Err(OnnxError::Decoder(
            "the last layer must be a Sigmoid".into(),
        ));
    }
    builder.output("image", DataType::Float, &graph.output_shape);

    let doc = "GenKSC decoder: scores e -> image psi(U e)";
    Ok(builder.finish("genksc_decoder", doc, &[("latent_size", s.to_string())]))
}

/// Checks the length of every vector of `graph` against its layer shapes.
fn check_decoder(graph: &DecoderGraph) -> Result<(), OnnxError> {
    let invalid = |what: &str, expected: usize, actual: usize| {
        let message = format!("{what} has {actual} values, expected {expected}");
        Err(OnnxError::Decoder(message))
    };
    let (s, d_f) = (graph.latent_size, graph.feature_size);
    if graph.projection.len() != s * d_f {
        return invalid("projection", s * d_f, graph.projection.len());
    }
    for (index, layer) in graph.layers.iter().enumerate() {
        let (weight, bias, weights, biases) = match layer {
            DecoderLayer::Dense {
                weight,
                bias,
                in_features,
                out_features,
            } => (weight, bias, in_features * out_features, *out_features),
            DecoderLayer::ConvTranspose2d {
                weight,
                bias,
                in_channels,
                out_channels,
                kernel,
                ..
            } => {
                let weights = in_channels * out_channels * kernel[0] * kernel[1];
                (weight, bias, weights, *out_channels)
            }
            _ => continue,
        };
        if weight.len() != weights {
            return invalid(&format!("layer {index} weight"), weights, weight.len());
        }
        if bias.len() != biases {
            return invalid(&format!("layer {index} bias"), biases, bias.len());
        }
    }
    Ok(())
}

/// Serialises a model to the ONNX protobuf bytes.
pub fn to_bytes(model: &ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}

/// Kernel, stride and symmetric zero padding of a convolution, `[vertical, horizontal]`.
#[derive(Clone, Copy)]
struct ConvAttributes {
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
}

/// Collects the nodes, initializers, inputs and outputs of one graph. Each node writes one
/// tensor named after the node, so Netron shows the same name on both.
#[derive(Default)]
struct GraphBuilder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    inputs: Vec<ValueInfoProto>,
    outputs: Vec<ValueInfoProto>,
}

impl GraphBuilder {
    /// Declares a graph input of shape `[N, shape...]`.
    fn input(&mut self, name: &str, data_type: DataType, shape: &[usize]) {
        self.inputs.push(value_info(name, data_type, shape));
    }

    /// Declares a graph output of shape `[N, shape...]`.
    fn output(&mut self, name: &str, data_type: DataType, shape: &[usize]) {
        self.outputs.push(value_info(name, data_type, shape));
    }

    fn f32_initializer(&mut self, name: &str, dims: &[usize], values: &[f32]) -> String {
        let raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializer(name, DataType::Float, dims, raw_data)
    }

    fn i64_initializer(&mut self, name: &str, dims: &[usize], values: &[i64]) -> String {
        let raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializer(name, DataType::Int64, dims, raw_data)
    }

    fn initializer(
        &mut self,
        name: &str,
        data_type: DataType,
        dims: &[usize],
        raw_data: Vec<u8>,
    ) -> String {
        self.initializers.push(TensorProto {
            name: name.to_string(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: data_type as i32,
            raw_data,
            ..TensorProto::default()
        });
        name.to_string()
    }

    /// Adds a node named `name` whose single output tensor is also `name`, and returns it.
    fn node(
        &mut self,
        op_type: &str,
        name: &str,
        inputs: &[&str],
        attribute: Vec<AttributeProto>,
    ) -> String {
        self.nodes.push(NodeProto {
            name: name.to_string(),
            op_type: op_type.to_string(),
            input: inputs.iter().map(|input| input.to_string()).collect(),
            output: vec![name.to_string()],
            attribute,
            ..NodeProto::default()
        });
        name.to_string()
    }

    /// Adds a `Conv` or `ConvTranspose` node with its weight (`values`, `dims`) and bias.
    fn conv(
        &mut self,
        op_type: &str,
        name: &str,
        x: &str,
        (weight, dims): (&[f32], &[usize; 4]),
        bias: &[f32],
        conv: ConvAttributes,
    ) -> String {
        let weight = self.f32_initializer(&format!("{name}.weight"), dims, weight);
        let bias = self.f32_initializer(&format!("{name}.bias"), &[bias.len()], bias);
        let [pad_h, pad_w] = conv.padding;
        let attributes = vec![
            ints("kernel_shape", &conv.kernel),
            ints("strides", &conv.stride),
            ints("pads", &[pad_h, pad_w, pad_h, pad_w]),
        ];
        self.node(op_type, name, &[x, &weight, &bias], attributes)
    }

    /// Adds `Gemm(x, W, b)` with `W` stored `[out, in]` (`transB = 1`).
    fn gemm(
        &mut self,
        name: &str,
        x: &str,
        weight: &[f32],
        bias: &[f32],
        dims: [usize; 2],
    ) -> String {
        let weight = self.f32_initializer(&format!("{name}.weight"), &dims, weight);
        let bias = self.f32_initializer(&format!("{name}.bias"), &[dims[0]], bias);
        self.node("Gemm", name, &[x, &weight, &bias], vec![int("transB", 1)])
    }

    fn leaky_relu(&mut self, x: &str, alpha: f32) -> String {
        let name = format!("{x}_leaky_relu");
        self.node("LeakyRelu", &name, &[x], vec![float("alpha", alpha)])
    }

    fn finish(self, name: &str, doc: &str, metadata: &[(&str, String)]) -> ModelProto {
        let graph = GraphProto {
            name: name.to_string(),
            node: self.nodes,
            initializer: self.initializers,
            input: self.inputs,
            output: self.outputs,
            ..GraphProto::default()
        };
        ModelProto {
            ir_version: IR_VERSION,
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: OPSET,
            }],
            producer_name: "genksc".to_string(),
            producer_version: env!("CARGO_PKG_VERSION").to_string(),
            doc_string: doc.to_string(),
            graph: Some(graph),
            metadata_props: metadata
                .iter()
                .map(|(key, value)| StringStringEntryProto {
                    key: key.to_string(),
                    value: value.clone(),
                })
                .collect(),
            ..ModelProto::default()
        }
    }
}

/// Type and shape `[N, shape...]` of a graph input or output.
fn value_info(name: &str, data_type: DataType, shape: &[usize]) -> ValueInfoProto {
    let batch = Dimension {
        value: Some(dimension::Value::DimParam(BATCH.to_string())),
        ..Dimension::default()
    };
    let sides = shape.iter().map(|&side| Dimension {
        value: Some(dimension::Value::DimValue(side as i64)),
        ..Dimension::default()
    });
    let tensor_type = type_proto::Tensor {
        elem_type: data_type as i32,
        shape: Some(TensorShapeProto {
            dim: std::iter::once(batch).chain(sides).collect(),
        }),
    };
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(tensor_type)),
            ..TypeProto::default()
        }),
        ..ValueInfoProto::default()
    }
}

fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: AttributeType::Int as i32,
        i: value,
        ..AttributeProto::default()
    }
}

fn ints(name: &str, values: &[usize]) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: AttributeType::Ints as i32,
        ints: values.iter().map(|&v| v as i64).collect(),
        ..AttributeProto::default()
    }
}

fn float(name: &str, value: f32) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: AttributeType::Float as i32,
        f: value,
        ..AttributeProto::default()
    }
}

#[cfg(test)]
mod tests {
    use burn::module::{Module, ModuleMapper, Param};
    use burn::prelude::{Device, Tensor};
    use burn::tensor::Distribution;

    use super::*;
    use crate::config::TrainConfig;
    use crate::data::{Dataset, Preset};
    use crate::ksc;
    use crate::metrics;
    use crate::model::AutoEncoder;
    use crate::tract_runner::{self, OnnxModel};
    use crate::trained::TrainedModel;

    /// Adds uniform noise in `[-0.5, 0.5)` to every vector parameter (biases and the batch
    /// normalisation scales and shifts), so that folding a scale of 1 and a shift of 0 is not
    /// the only case tested.
    struct PerturbVectors;

    impl ModuleMapper for PerturbVectors {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            if D != 1 {
                return param;
            }
            param.map(|tensor| {
                let noise = tensor.random_like(Distribution::Uniform(-0.5, 0.5));
                tensor + noise
            })
        }
    }

    /// A model of `preset` with random weights, batch normalisation statistics moved away
    /// from their initial 0 and 1 by three training-mode passes, and a random `U`.
    fn random_model(preset: Preset, seed: u64) -> TrainedModel {
        let device = Device::flex();
        device.seed(seed);
        let config = TrainConfig::preset(preset, "data".into());
        let autodiff = device.clone().autodiff();
        let model = AutoEncoder::new(config.architecture, config.feature_size, &autodiff);
        for _ in 0..3 {
            let shape = [32, config.feature_size];
            let features = Tensor::<2>::random(shape, Distribution::Normal(0.5, 2.0), &autodiff);
            model.decoder.forward(features);
        }
        let model = model.valid().map(&mut PerturbVectors);
        let (d_f, s) = (config.feature_size, config.latent_size);
        let mean = (0..d_f).map(|i| (i % 7) as f32 * 0.01).collect();
        TrainedModel {
            projection: crate::cayley::random_orthonormal(d_f, s, &device),
            config,
            epoch: 0,
            model,
            mean,
            device,
        }
    }

    /// Five images of a fixed pseudo-random pattern.
    fn pattern_images() -> Dataset {
        let images = (0..5 * 784).map(|i| ((i * 37 + i / 784 * 11) % 256) as f32 / 255.0);
        Dataset {
            images: images.collect(),
            labels: vec![0; 5],
            rows: 28,
            cols: 28,
        }
    }

    fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    /// Writes both models of `trained`, runs them with tract and compares with Burn.
    fn check_against_burn(trained: &TrainedModel) {
        let images = pattern_images();
        let (s, k) = (trained.config.latent_size, trained.config.clusters);
        let scores = trained.scores(&images);

        let graph = trained.encoder_graph(vec![0.0; k * 784]);
        let bytes = to_bytes(&encoder_model(&graph).unwrap());
        let encoder = OnnxModel::from_bytes(&bytes, "encoder.onnx").unwrap();
        let outputs = tract_runner::encode(&encoder, &images.images, 2).unwrap();
        let score_diff = max_abs_diff(&outputs.scores, &scores);
        assert!(score_diff < 1e-4, "scores differ by {score_diff}");

        let codes: Vec<f32> = ksc::simplex_codes(k).into_iter().flatten().collect();
        let cluster_scores: Vec<f32> = scores
            .chunks(s)
            .flat_map(|row| row[..k - 1].to_vec())
            .collect();
        let distances = metrics::cosine_distances(&cluster_scores, &codes, k);
        let memberships = metrics::memberships(&distances, k);
        let membership_diff = max_abs_diff(&outputs.membership, &memberships);
        assert!(
            membership_diff < 1e-4,
            "memberships differ by {membership_diff}"
        );
        let clusters: Vec<i64> = metrics::hard_assignments(&distances, k)
            .into_iter()
            .map(|c| c as i64)
            .collect();
        assert_eq!(outputs.cluster, clusters);

        let bytes = to_bytes(&decoder_model(&trained.decoder_graph().unwrap()).unwrap());
        let decoder = OnnxModel::from_bytes(&bytes, "decoder.onnx").unwrap();
        let decoded = tract_runner::decode(&decoder, &scores, s, 2).unwrap();
        let image_diff = max_abs_diff(&decoded, &trained.decode(&scores));
        assert!(image_diff < 1e-5, "decoded images differ by {image_diff}");
    }

    #[test]
    fn small_cnn_onnx_matches_burn() {
        check_against_burn(&random_model(Preset::Mnist012, 1));
    }

    #[test]
    fn batch_norm_decoder_onnx_matches_burn() {
        let trained = random_model(Preset::FashionMnist, 2);
        let norms = trained
            .model
            .decoder
            .norms()
            .expect("ClusterGAN decoder has batch norms");
        let running_mean = norms[0]
            .running_mean
            .value()
            .abs()
            .max()
            .into_scalar::<f32>();
        assert!(running_mean > 0.01, "running mean still 0: {running_mean}");
        check_against_burn(&trained);
    }

    #[test]
    fn encoder_has_readable_names() {
        let graph = random_model(Preset::Mnist012, 3).encoder_graph(vec![0.0; 3 * 784]);
        let model = encoder_model(&graph).unwrap();
        let graph = model.graph.unwrap();
        let names: Vec<&str> = graph.node.iter().map(|node| node.name.as_str()).collect();
        for expected in ["conv1", "conv1_leaky_relu", "flatten", "dense1", "features"] {
            assert!(names.contains(&expected), "no node {expected} in {names:?}");
        }
        let outputs: Vec<&str> = graph.output.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(outputs, ["scores", "membership", "cluster"]);
        assert_eq!(model.opset_import[0].version, OPSET);
    }

    #[test]
    fn decoder_rejects_short_bias() {
        let mut graph = random_model(Preset::Mnist012, 4).decoder_graph().unwrap();
        if let Some(DecoderLayer::Dense { bias, .. }) = graph.layers.first_mut() {
            bias.pop();
        }
        let error = decoder_model(&graph).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid decoder graph: layer 0 bias has 63 values, expected 64"
        );
    }
}
