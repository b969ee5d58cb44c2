//! The writer: an owned [`ModelSpec`] to the bytes of a model file, and back.

use std::string::{String, ToString};
use std::vec::Vec;

use crate::types::{Activation, ChannelParams, LayerKind, ProjectionRow};
use crate::{
    ALIGNMENT, FormatError, HEADER_LEN, MAGIC, MAX_CLUSTERS, MAX_LATENT, MAX_LAYERS, Model,
    VERSION, crc32,
};

/// An owned description of a model, the input of the writer.
///
/// The number of clusters `k` is `cluster_names.len()` and the latent size `s` is
/// `projection.rows.len()`. [`ModelSpec::to_bytes`] checks the rest.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSpec {
    /// Input shape `[channels, height, width]`.
    pub input_shape: [u16; 3],
    /// Real value of one pixel step (1/255 maps pixels to `[0, 1]`). The zero point is -128.
    pub input_scale: f32,
    /// Top membership below which an assignment is reported as uncertain, in `[0, 1]`.
    pub uncertain_threshold: f32,
    /// The layers in the order they run.
    pub layers: Vec<LayerSpec>,
    /// The projection from the feature vector onto the scores.
    pub projection: ProjectionSpec,
    /// Cluster codes, `[k, k - 1]` row-major.
    pub cluster_codes: Vec<f32>,
    /// One name per cluster, at most 255 bytes each.
    pub cluster_names: Vec<String>,
    /// One prototype image per cluster, `[k, channels * height * width]` pixels.
    pub prototypes: Vec<u8>,
}

/// An owned layer of a [`ModelSpec`].
#[derive(Clone, Debug, PartialEq)]
pub struct LayerSpec {
    /// The operation.
    pub kind: LayerKind,
    /// The activation fused into the requantization.
    pub activation: Activation,
    /// Input channels (dense: input features).
    pub in_channels: u16,
    /// Output channels (dense: output features).
    pub out_channels: u16,
    /// Scale of the output tensor.
    pub output_scale: f32,
    /// Zero point of the output tensor.
    pub output_zero_point: i8,
    /// One entry per output channel.
    pub channels: Vec<ChannelParams>,
    /// `[out_channels, fan_in]` row-major; conv rows are `[in][kernel_h][kernel_w]`.
    pub weights: Vec<i8>,
}

/// An owned projection of a [`ModelSpec`].
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectionSpec {
    /// One entry per score (latent dimension).
    pub rows: Vec<ProjectionRow>,
    /// `[rows, feature size]` row-major.
    pub weights: Vec<i8>,
}

impl ModelSpec {
    /// Writes the model file and checks it with [`Model::parse`].
    ///
    /// # Errors
    ///
    /// Returns a [`FormatError`] when a count does not fit its field, when a vector's length
    /// disagrees with the counts it must match, or when the written file fails validation.
    pub fn to_bytes(&self) -> Result<Vec<u8>, FormatError> {
        self.check_counts()?;

        let mut payload = Vec::new();
        self.write_model_header(&mut payload);
        for layer in &self.layers {
            write_layer(&mut payload, layer);
        }
        for row in &self.projection.rows {
            payload.extend_from_slice(&row.bias.to_le_bytes());
            payload.extend_from_slice(&row.score_scale.to_le_bytes());
        }
        payload.extend(self.projection.weights.iter().map(|&weight| weight as u8));
        pad(&mut payload);
        for code in &self.cluster_codes {
            payload.extend_from_slice(&code.to_le_bytes());
        }
        for name in &self.cluster_names {
            // `check_counts` rejected names longer than 255 bytes.
            payload.push(name.len() as u8);
            payload.extend_from_slice(name.as_bytes());
        }
        pad(&mut payload);
        payload.extend_from_slice(&self.prototypes);
        pad(&mut payload);

        let payload_len = u32::try_from(payload.len()).map_err(|_| FormatError::LimitExceeded {
            field: "payload length",
            value: payload.len(),
            min: 0,
            max: u32::MAX as usize,
        })?;
        let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
        bytes.extend_from_slice(&MAGIC);
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        bytes.extend_from_slice(&0u16.to_le_bytes());
        bytes.extend_from_slice(&payload_len.to_le_bytes());
        bytes.extend_from_slice(&crc32(&payload).to_le_bytes());
        bytes.extend_from_slice(&payload);

        Model::parse(&bytes)?;
        Ok(bytes)
    }

    /// Checks what the bytes alone cannot show: counts that must fit narrow fields and vector
    /// lengths that must agree with them.
    fn check_counts(&self) -> Result<(), FormatError> {
        let limit = |field, value, min, max| FormatError::LimitExceeded {
            field,
            value,
            min,
            max,
        };
        if self.layers.len() > MAX_LAYERS {
            return Err(limit("layer count", self.layers.len(), 0, MAX_LAYERS));
        }
        let clusters = self.cluster_names.len();
        if !(2..=MAX_CLUSTERS).contains(&clusters) {
            return Err(limit("cluster count", clusters, 2, MAX_CLUSTERS));
        }
        if self.projection.rows.len() > MAX_LATENT {
            return Err(limit(
                "latent size",
                self.projection.rows.len(),
                0,
                MAX_LATENT,
            ));
        }
        if let Some(name) = self.cluster_names.iter().find(|name| name.len() > 255) {
            return Err(limit("cluster name length", name.len(), 0, 255));
        }

        for (index, layer) in self.layers.iter().enumerate() {
            if layer.channels.len() != usize::from(layer.out_channels) {
                let reason = "channel parameter count differs from out_channels";
                return Err(FormatError::InvalidLayer { index, reason });
            }
            let fan_in = match layer.kind {
                LayerKind::Conv2d { kernel, .. } => {
                    usize::from(layer.in_channels) * usize::from(kernel[0]) * usize::from(kernel[1])
                }
                LayerKind::Dense => usize::from(layer.in_channels),
            };
            if Some(layer.weights.len()) != fan_in.checked_mul(usize::from(layer.out_channels)) {
                let reason = "weight count differs from out_channels x fan-in";
                return Err(FormatError::InvalidLayer { index, reason });
            }
        }
        Ok(())
    }

    fn write_model_header(&self, payload: &mut Vec<u8>) {
        for side in self.input_shape {
            payload.extend_from_slice(&side.to_le_bytes());
        }
        // `check_counts` bounded these counts by limits that fit the field widths.
        payload.push(self.layers.len() as u8);
        payload.push(self.cluster_names.len() as u8);
        payload.extend_from_slice(&(self.projection.rows.len() as u16).to_le_bytes());
        payload.extend_from_slice(&[0; 2]);
        payload.extend_from_slice(&self.input_scale.to_le_bytes());
        payload.extend_from_slice(&self.uncertain_threshold.to_le_bytes());
        payload.extend_from_slice(&[0; 4]);
    }
}

fn write_layer(payload: &mut Vec<u8>, layer: &LayerSpec) {
    let (kernel, stride, padding) = match layer.kind {
        LayerKind::Conv2d {
            kernel,
            stride,
            padding,
        } => (kernel, stride, padding),
        LayerKind::Dense => ([1, 1], [1, 1], [0, 0]),
    };
    payload.push(layer.kind.code());
    payload.push(layer.activation.code());
    payload.extend_from_slice(&[0; 2]);
    payload.extend_from_slice(&layer.in_channels.to_le_bytes());
    payload.extend_from_slice(&layer.out_channels.to_le_bytes());
    payload.extend_from_slice(&kernel);
    payload.extend_from_slice(&stride);
    payload.extend_from_slice(&padding);
    payload.extend_from_slice(&[0; 2]);
    payload.extend_from_slice(&layer.activation.alpha().to_le_bytes());
    payload.extend_from_slice(&layer.output_scale.to_le_bytes());
    payload.push(layer.output_zero_point as u8);
    payload.extend_from_slice(&[0; 3]);

    for channel in &layer.channels {
        payload.extend_from_slice(&channel.bias.to_le_bytes());
        payload.extend_from_slice(&channel.weight_scale.to_le_bytes());
        payload.extend_from_slice(&channel.positive.multiplier.to_le_bytes());
        payload.extend_from_slice(&channel.negative.multiplier.to_le_bytes());
        payload.push(channel.positive.shift as u8);
        payload.push(channel.negative.shift as u8);
        payload.extend_from_slice(&[0; 2]);
    }
    payload.extend(layer.weights.iter().map(|&weight| weight as u8));
    pad(payload);
}

/// Appends zeros up to the next multiple of [`ALIGNMENT`]. The payload starts after the
/// 16-byte header, so payload and file offsets agree modulo 4.
fn pad(payload: &mut Vec<u8>) {
    while !payload.len().is_multiple_of(ALIGNMENT) {
        payload.push(0);
    }
}

impl Model<'_> {
    /// Copies the model into an owned [`ModelSpec`]; `to_bytes` on the result writes the same
    /// bytes this model was parsed from.
    pub fn to_spec(&self) -> ModelSpec {
        let shape = self.input_shape();
        let layers = self.layers().map(|layer| layer_spec(&layer)).collect();
        let projection = self.projection();
        ModelSpec {
            // Parsing bounded every side by `MAX_CHANNELS` or `MAX_SPATIAL`, both below 2^16.
            input_shape: [
                shape.channels as u16,
                shape.height as u16,
                shape.width as u16,
            ],
            input_scale: self.input_scale(),
            uncertain_threshold: self.uncertain_threshold(),
            layers,
            projection: ProjectionSpec {
                rows: projection.rows().collect(),
                weights: projection
                    .weights()
                    .iter()
                    .map(|&byte| byte as i8)
                    .collect(),
            },
            cluster_codes: self.cluster_codes().flatten().collect(),
            cluster_names: self.cluster_names().map(ToString::to_string).collect(),
            prototypes: self.prototypes().flatten().copied().collect(),
        }
    }
}

fn layer_spec(layer: &crate::Layer<'_>) -> LayerSpec {
    let in_channels = match layer.kind {
        LayerKind::Conv2d { .. } => layer.input_shape.channels,
        LayerKind::Dense => layer.input_shape.len(),
    };
    LayerSpec {
        kind: layer.kind,
        activation: layer.activation,
        // Parsing checked that these came from 16-bit fields.
        in_channels: in_channels as u16,
        out_channels: layer.output_shape.channels as u16,
        output_scale: layer.output_scale,
        output_zero_point: layer.output_zero_point,
        channels: layer.channels().collect(),
        weights: layer.weights().iter().map(|&byte| byte as i8).collect(),
    }
}
