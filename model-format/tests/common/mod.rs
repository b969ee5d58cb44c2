//! A small valid model and the helpers shared by the integration tests.

#![allow(dead_code)]

use model_format::{
    Activation, ChannelParams, LayerKind, LayerSpec, ModelSpec, ProjectionRow, ProjectionSpec,
    Requantization,
};

pub mod reader;

/// Offset of the first layer record: file header (16) + model header (24).
pub const FIRST_LAYER_OFFSET: usize = 40;

/// Builds a model with input 1x6x6, a conv (1->2, kernel 3, stride 2, padding 1) with LeakyReLU to
/// 2x3x3, a dense layer (18->4), a 3-row projection and 3 clusters.
pub fn sample_spec() -> ModelSpec {
    let requantization = Requantization {
        multiplier: 1 << 30,
        shift: 3,
    };
    let leaky = Requantization {
        multiplier: 1 << 30,
        shift: 6,
    };
    let conv = LayerSpec {
        kind: LayerKind::Conv2d {
            kernel: [3, 3],
            stride: [2, 2],
            padding: [1, 1],
        },
        activation: Activation::LeakyRelu { alpha: 0.125 },
        in_channels: 1,
        out_channels: 2,
        output_scale: 0.05,
        output_zero_point: -100,
        channels: (0..2)
            .map(|c| ChannelParams {
                bias: 100 * c - 50,
                weight_scale: 0.01,
                positive: requantization,
                negative: leaky,
            })
            .collect(),
        weights: (0..18).map(|i| (i * 7 % 255 - 127) as i8).collect(),
    };
    let dense = LayerSpec {
        kind: LayerKind::Dense,
        activation: Activation::None,
        in_channels: 18,
        out_channels: 4,
        output_scale: 0.1,
        output_zero_point: 3,
        channels: (0..4)
            .map(|c| ChannelParams {
                bias: c * 1000,
                weight_scale: 0.02,
                positive: requantization,
                negative: requantization,
            })
            .collect(),
        weights: (0..72).map(|i| (i * 13 % 255 - 127) as i8).collect(),
    };
    let half_sqrt3 = 3f32.sqrt() / 2.0;
    ModelSpec {
        input_shape: [1, 6, 6],
        input_scale: 1.0 / 255.0,
        uncertain_threshold: 0.5,
        layers: vec![conv, dense],
        projection: ProjectionSpec {
            rows: (0..3)
                .map(|r| ProjectionRow {
                    bias: -7 * r,
                    score_scale: 0.001 * (r + 1) as f32,
                })
                .collect(),
            weights: (0..12).map(|i| (i * 29 % 255 - 127) as i8).collect(),
        },
        cluster_codes: vec![0.0, 1.0, -half_sqrt3, -0.5, half_sqrt3, -0.5],
        cluster_names: vec!["zero".into(), "one".into(), "two".into()],
        prototypes: (0..3 * 36).map(|i| (i * 5 % 256) as u8).collect(),
    }
}
