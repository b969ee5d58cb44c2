//! The validating reader: [`Model::parse`] and the borrowed views it hands out.

use core::fmt;
use core::slice::ChunksExact;

use crate::types::{
    Activation, ChannelParams, LayerKind, ProjectionRow, Requantization, TensorShape,
};
use crate::{
    ALIGNMENT, CHANNEL_RECORD_LEN, FormatError, HEADER_LEN, LAYER_HEADER_LEN, MAGIC, MAX_ABS_BIAS,
    MAX_CHANNELS, MAX_CLUSTERS, MAX_FAN_IN, MAX_FEATURES, MAX_KERNEL, MAX_LATENT, MAX_LAYERS,
    MAX_SPATIAL, MAX_TENSOR_LEN, MODEL_HEADER_LEN, PROJECTION_ROW_LEN, VERSION, crc32,
};

/// Zero point of the int8 input: a pixel `p` becomes `p - 128`.
const INPUT_ZERO_POINT: i8 = -128;

/// A bounds-checked cursor over part of a file. `base` is the file offset of `bytes[0]`, so
/// errors and alignment refer to file offsets.
#[derive(Clone, Debug)]
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], base: usize) -> Self {
        Reader {
            bytes,
            pos: 0,
            base,
        }
    }

    fn offset(&self) -> usize {
        self.base.saturating_add(self.pos)
    }

    fn truncated(&self, len: usize) -> FormatError {
        FormatError::Truncated {
            needed: self.offset().saturating_add(len),
            available: self.base.saturating_add(self.bytes.len()),
        }
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], FormatError> {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        let (head, _) = rest
            .split_at_checked(len)
            .ok_or_else(|| self.truncated(len))?;
        self.pos += len;
        Ok(head)
    }

    /// Takes `count` records of `record_len` bytes each.
    fn take_records(&mut self, count: usize, record_len: usize) -> Result<&'a [u8], FormatError> {
        let len = count
            .checked_mul(record_len)
            .ok_or_else(|| self.truncated(usize::MAX))?;
        self.take(len)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let bytes = self.take(N)?;
        bytes
            .first_chunk::<N>()
            .copied()
            .ok_or_else(|| self.truncated(N))
    }

    fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(self.array::<1>()?[0])
    }

    fn i8(&mut self) -> Result<i8, FormatError> {
        Ok(i8::from_le_bytes(self.array()?))
    }

    fn u16(&mut self) -> Result<u16, FormatError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn f32(&mut self) -> Result<f32, FormatError> {
        Ok(f32::from_le_bytes(self.array()?))
    }

    fn reserved<const N: usize>(&mut self) -> Result<(), FormatError> {
        let offset = self.offset();
        if self.array::<N>()? != [0; N] {
            return Err(FormatError::InvalidValue {
                field: "reserved bytes",
                offset,
            });
        }
        Ok(())
    }

    /// Skips the zero padding up to the next multiple of [`ALIGNMENT`].
    fn align(&mut self) -> Result<(), FormatError> {
        let offset = self.offset();
        let padding = (ALIGNMENT - offset % ALIGNMENT) % ALIGNMENT;
        if self.take(padding)?.iter().any(|&byte| byte != 0) {
            return Err(FormatError::InvalidValue {
                field: "padding",
                offset,
            });
        }
        Ok(())
    }

    fn at_end(&self) -> bool {
        self.pos == self.bytes.len()
    }
}

/// Reads the little-endian 4 bytes at `at`, or zeros when `bytes` is too short. Callers only
/// pass records whose length the parser has checked.
fn le_bytes4(bytes: &[u8], at: usize) -> [u8; 4] {
    bytes
        .get(at..)
        .and_then(|rest| rest.first_chunk::<4>())
        .copied()
        .unwrap_or_default()
}

fn check_range(
    field: &'static str,
    value: usize,
    min: usize,
    max: usize,
) -> Result<(), FormatError> {
    if value < min || value > max {
        return Err(FormatError::LimitExceeded {
            field,
            value,
            min,
            max,
        });
    }
    Ok(())
}

fn is_positive_finite(value: f32) -> bool {
    value.is_finite() && value > 0.0
}

/// Shape and quantization of one activation tensor.
#[derive(Clone, Copy, Debug)]
struct TensorInfo {
    shape: TensorShape,
    scale: f32,
    zero_point: i8,
}

/// A validated model file, borrowed from the bytes it was parsed from.
#[derive(Clone, Copy)]
pub struct Model<'a> {
    input: TensorInfo,
    features: TensorInfo,
    uncertain_threshold: f32,
    clusters: usize,
    latent_size: usize,
    layer_count: usize,
    layers_offset: usize,
    layer_bytes: &'a [u8],
    projection_rows: &'a [u8],
    projection_weights: &'a [u8],
    cluster_codes: &'a [u8],
    cluster_names: &'a [u8],
    prototypes: &'a [u8],
    max_tensor_len: usize,
    max_patch_len: usize,
}

impl<'a> Model<'a> {
    /// Validates `bytes` as a model file and returns a view of it.
    ///
    /// # Errors
    ///
    /// Returns the first problem found, in this order: [`FormatError::BadMagic`],
    /// [`FormatError::Truncated`] for a file shorter than its header,
    /// [`FormatError::UnsupportedVersion`], a length that disagrees with the header
    /// ([`FormatError::Truncated`], [`FormatError::TrailingBytes`]),
    /// [`FormatError::ChecksumMismatch`], and then any invalid field of the payload.
    pub fn parse(bytes: &'a [u8]) -> Result<Model<'a>, FormatError> {
        let magic_len = bytes.len().min(MAGIC.len());
        if bytes.get(..magic_len) != MAGIC.get(..magic_len) {
            return Err(FormatError::BadMagic);
        }
        if bytes.len() < HEADER_LEN {
            return Err(FormatError::Truncated {
                needed: HEADER_LEN,
                available: bytes.len(),
            });
        }

        let mut header = Reader::new(bytes, 0);
        header.array::<4>()?;
        let version = header.u16()?;
        if version != VERSION {
            return Err(FormatError::UnsupportedVersion { version });
        }
        header.reserved::<2>()?;
        let payload_len = usize::try_from(header.u32()?).unwrap_or(usize::MAX);
        let expected_crc = header.u32()?;

        let end = HEADER_LEN.saturating_add(payload_len);
        if bytes.len() < end {
            return Err(FormatError::Truncated {
                needed: end,
                available: bytes.len(),
            });
        }
        if bytes.len() > end {
            return Err(FormatError::TrailingBytes { offset: end });
        }
        if !payload_len.is_multiple_of(ALIGNMENT) {
            return Err(FormatError::InvalidValue {
                field: "payload length",
                offset: 8,
            });
        }
        let payload = bytes.get(HEADER_LEN..).unwrap_or_default();
        let actual_crc = crc32(payload);
        if actual_crc != expected_crc {
            return Err(FormatError::ChecksumMismatch {
                expected: expected_crc,
                actual: actual_crc,
            });
        }

        parse_payload(Reader::new(payload, HEADER_LEN))
    }

    /// Returns the shape of the input image.
    pub fn input_shape(&self) -> TensorShape {
        self.input.shape
    }

    /// Returns the number of input bytes (pixels) of an image.
    pub fn input_len(&self) -> usize {
        self.input.shape.len()
    }

    /// Returns the real value of one pixel step: a pixel `p` stands for `input_scale * p`.
    pub fn input_scale(&self) -> f32 {
        self.input.scale
    }

    /// Returns the zero point of the int8 input, always -128: a pixel `p` becomes `p - 128`.
    pub fn input_zero_point(&self) -> i8 {
        self.input.zero_point
    }

    /// Returns the top membership below which an assignment is reported as uncertain.
    pub fn uncertain_threshold(&self) -> f32 {
        self.uncertain_threshold
    }

    /// Returns the number of clusters `k`.
    pub fn clusters(&self) -> usize {
        self.clusters
    }

    /// Returns the latent size `s`, the number of projection rows. The first `k - 1` scores
    /// carry the clusters.
    pub fn latent_size(&self) -> usize {
        self.latent_size
    }

    /// Returns the length of the feature vector the projection reads.
    pub fn feature_size(&self) -> usize {
        self.features.shape.len()
    }

    /// Returns the scale of the int8 feature vector.
    pub fn feature_scale(&self) -> f32 {
        self.features.scale
    }

    /// Returns the zero point of the int8 feature vector.
    pub fn feature_zero_point(&self) -> i8 {
        self.features.zero_point
    }

    /// Returns the number of layers.
    pub fn layer_count(&self) -> usize {
        self.layer_count
    }

    /// Returns the layers in the order they run.
    pub fn layers(&self) -> Layers<'a> {
        Layers {
            reader: Reader::new(self.layer_bytes, self.layers_offset),
            input: self.input,
            index: 0,
            count: self.layer_count,
        }
    }

    /// Returns the projection from the feature vector onto the scores.
    pub fn projection(&self) -> Projection<'a> {
        Projection {
            rows: self.projection_rows,
            weights: self.projection_weights,
            feature_size: self.feature_size(),
        }
    }

    /// Returns the unit cluster codes `s_c`, one row of `k - 1` values per cluster.
    pub fn cluster_codes(&self) -> ClusterCodes<'a> {
        let row_len = self.clusters.saturating_sub(1).max(1) * 4;
        ClusterCodes {
            rows: self.cluster_codes.chunks_exact(row_len),
        }
    }

    /// Returns the cluster names, in cluster order.
    pub fn cluster_names(&self) -> Names<'a> {
        Names {
            bytes: self.cluster_names,
        }
    }

    /// Returns the name of cluster `cluster`, or `None` when there is no such cluster.
    pub fn cluster_name(&self, cluster: usize) -> Option<&'a str> {
        self.cluster_names().nth(cluster)
    }

    /// Returns the prototype images, one of [`input_len`](Self::input_len) pixels per cluster.
    pub fn prototypes(&self) -> ChunksExact<'a, u8> {
        self.prototypes.chunks_exact(self.input_len().max(1))
    }

    /// Returns the prototype image of cluster `cluster`, or `None` when there is no such
    /// cluster.
    pub fn prototype(&self, cluster: usize) -> Option<&'a [u8]> {
        self.prototypes().nth(cluster)
    }

    /// Returns the number of elements of the largest activation tensor, the input included.
    pub fn max_tensor_len(&self) -> usize {
        self.max_tensor_len
    }

    /// Returns the largest fan-in of a convolution (`in * kernel_h * kernel_w`), which is the
    /// length of one im2col patch, or 0 without convolutions.
    pub fn max_patch_len(&self) -> usize {
        self.max_patch_len
    }
}

impl fmt::Debug for Model<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("input_shape", &self.input.shape)
            .field("layer_count", &self.layer_count)
            .field("feature_size", &self.feature_size())
            .field("latent_size", &self.latent_size)
            .field("clusters", &self.clusters)
            .field("uncertain_threshold", &self.uncertain_threshold)
            .finish_non_exhaustive()
    }
}

fn parse_payload(mut reader: Reader<'_>) -> Result<Model<'_>, FormatError> {
    let header_start = reader.offset();
    let channels = usize::from(reader.u16()?);
    let height = usize::from(reader.u16()?);
    let width = usize::from(reader.u16()?);
    let layer_count = usize::from(reader.u8()?);
    let clusters = usize::from(reader.u8()?);
    let latent_size = usize::from(reader.u16()?);
    reader.reserved::<2>()?;
    let scale_offset = reader.offset();
    let input_scale = reader.f32()?;
    let threshold_offset = reader.offset();
    let uncertain_threshold = reader.f32()?;
    reader.reserved::<4>()?;
    debug_assert_eq!(reader.offset() - header_start, MODEL_HEADER_LEN);

    check_range("input channels", channels, 1, MAX_CHANNELS)?;
    check_range("input height", height, 1, MAX_SPATIAL)?;
    check_range("input width", width, 1, MAX_SPATIAL)?;
    check_range("layer count", layer_count, 0, MAX_LAYERS)?;
    check_range("cluster count", clusters, 2, MAX_CLUSTERS)?;
    check_range("latent size", latent_size, clusters - 1, MAX_LATENT)?;
    if !is_positive_finite(input_scale) {
        return Err(FormatError::InvalidValue {
            field: "input scale",
            offset: scale_offset,
        });
    }
    if !(0.0..=1.0).contains(&uncertain_threshold) {
        let offset = threshold_offset;
        return Err(FormatError::InvalidValue {
            field: "uncertain threshold",
            offset,
        });
    }
    let shape = TensorShape {
        channels,
        height,
        width,
    };
    let input_len = shape.checked_len().unwrap_or(usize::MAX);
    check_range("input length", input_len, 1, MAX_TENSOR_LEN)?;
    let input = TensorInfo {
        shape,
        scale: input_scale,
        zero_point: INPUT_ZERO_POINT,
    };

    // Layers: each one reads the tensor the previous one wrote.
    let layers_offset = reader.offset();
    let layers_start = reader.pos;
    let mut tensor = input;
    let mut max_tensor_len = input_len;
    let mut max_patch_len = 0;
    for index in 0..layer_count {
        let layer = read_layer(&mut reader, index, tensor)?;
        max_tensor_len = max_tensor_len.max(layer.output_shape.len());
        if let LayerKind::Conv2d { .. } = layer.kind {
            max_patch_len = max_patch_len.max(layer.fan_in);
        }
        tensor = layer.output();
    }
    let layer_bytes = reader
        .bytes
        .get(layers_start..reader.pos)
        .unwrap_or_default();
    let feature_size = tensor.shape.len();
    check_range("feature size", feature_size, 1, MAX_FAN_IN)?;

    // Projection: row records, then the int8 weights.
    let rows_offset = reader.offset();
    let projection_rows = reader.take_records(latent_size, PROJECTION_ROW_LEN)?;
    for (row_index, row) in projection_rows.chunks_exact(PROJECTION_ROW_LEN).enumerate() {
        let offset = rows_offset.saturating_add(row_index * PROJECTION_ROW_LEN);
        let row = decode_projection_row(row);
        if row.bias.unsigned_abs() > MAX_ABS_BIAS.unsigned_abs() {
            return Err(FormatError::InvalidValue {
                field: "projection bias",
                offset,
            });
        }
        if !is_positive_finite(row.score_scale) {
            let offset = offset + 4;
            return Err(FormatError::InvalidValue {
                field: "projection score scale",
                offset,
            });
        }
    }
    let projection_weights = reader.take_records(latent_size, feature_size)?;
    reader.align()?;

    // Cluster codes: k rows of k - 1 finite values.
    let codes_offset = reader.offset();
    let cluster_codes = reader.take_records(clusters * (clusters - 1), 4)?;
    for (index, value) in F32s::new(cluster_codes).enumerate() {
        if !value.is_finite() {
            let offset = codes_offset.saturating_add(index * 4);
            return Err(FormatError::InvalidValue {
                field: "cluster code",
                offset,
            });
        }
    }

    // Cluster names: length-prefixed UTF-8.
    let names_start = reader.pos;
    for _ in 0..clusters {
        let len = usize::from(reader.u8()?);
        let offset = reader.offset();
        if core::str::from_utf8(reader.take(len)?).is_err() {
            return Err(FormatError::InvalidValue {
                field: "cluster name (not UTF-8)",
                offset,
            });
        }
    }
    let cluster_names = reader
        .bytes
        .get(names_start..reader.pos)
        .unwrap_or_default();
    reader.align()?;

    let prototypes = reader.take_records(clusters, input_len)?;
    reader.align()?;
    if !reader.at_end() {
        return Err(FormatError::TrailingBytes {
            offset: reader.offset(),
        });
    }

    Ok(Model {
        input,
        features: tensor,
        uncertain_threshold,
        clusters,
        latent_size,
        layer_count,
        layers_offset,
        layer_bytes,
        projection_rows,
        projection_weights,
        cluster_codes,
        cluster_names,
        prototypes,
        max_tensor_len,
        max_patch_len,
    })
}

/// Reads and validates one layer record that reads `input`.
fn read_layer<'a>(
    reader: &mut Reader<'a>,
    index: usize,
    input: TensorInfo,
) -> Result<Layer<'a>, FormatError> {
    let invalid = |reason| FormatError::InvalidLayer { index, reason };

    let header_start = reader.offset();
    let kind_code = reader.u8()?;
    let activation_code = reader.u8()?;
    reader.reserved::<2>()?;
    let in_channels = usize::from(reader.u16()?);
    let out_channels = usize::from(reader.u16()?);
    let kernel = reader.array::<2>()?;
    let stride = reader.array::<2>()?;
    let padding = reader.array::<2>()?;
    reader.reserved::<2>()?;
    let alpha = reader.f32()?;
    let output_scale = reader.f32()?;
    let output_zero_point = reader.i8()?;
    reader.reserved::<3>()?;
    debug_assert_eq!(reader.offset() - header_start, LAYER_HEADER_LEN);

    let activation = match activation_code {
        0 if alpha.to_bits() == 0 => Activation::None,
        0 => return Err(invalid("alpha is not 0 for a layer without activation")),
        1 if (0.0..=1.0).contains(&alpha) => Activation::LeakyRelu { alpha },
        1 => return Err(invalid("LeakyReLU alpha is outside [0, 1]")),
        _ => return Err(invalid("unknown activation code")),
    };
    if !is_positive_finite(output_scale) {
        return Err(invalid("output scale is not a finite positive number"));
    }

    let (kind, output_shape, fan_in) = match kind_code {
        1 => {
            let kind = LayerKind::Conv2d {
                kernel,
                stride,
                padding,
            };
            let (output_shape, fan_in) = conv_output(
                input.shape,
                in_channels,
                out_channels,
                kernel,
                stride,
                padding,
            )
            .map_err(invalid)?;
            (kind, output_shape, fan_in)
        }
        2 => {
            if kernel != [1, 1] || stride != [1, 1] || padding != [0, 0] {
                return Err(invalid(
                    "dense layer has a kernel, stride or padding other than 1, 1, 0",
                ));
            }
            if in_channels != input.shape.len() {
                return Err(invalid(
                    "input features differ from the length of the previous tensor",
                ));
            }
            if out_channels == 0 || out_channels > MAX_FEATURES {
                return Err(invalid("output features outside 1..=MAX_FEATURES"));
            }
            let output_shape = TensorShape {
                channels: out_channels,
                height: 1,
                width: 1,
            };
            (LayerKind::Dense, output_shape, in_channels)
        }
        _ => return Err(invalid("unknown layer kind code")),
    };
    if fan_in > MAX_FAN_IN {
        return Err(invalid("fan-in exceeds MAX_FAN_IN"));
    }
    if output_shape
        .checked_len()
        .is_none_or(|len| len > MAX_TENSOR_LEN)
    {
        return Err(invalid("output length exceeds MAX_TENSOR_LEN"));
    }

    let channels = reader.take_records(out_channels, CHANNEL_RECORD_LEN)?;
    for record in channels.chunks_exact(CHANNEL_RECORD_LEN) {
        check_channel(record, activation).map_err(invalid)?;
    }
    let weights = reader.take_records(out_channels, fan_in)?;
    reader.align()?;

    Ok(Layer {
        kind,
        activation,
        input_shape: input.shape,
        input_scale: input.scale,
        input_zero_point: input.zero_point,
        output_shape,
        output_scale,
        output_zero_point,
        fan_in,
        channels,
        weights,
    })
}

/// Checks a convolution against the tensor it reads and returns its output shape and fan-in.
fn conv_output(
    input: TensorShape,
    in_channels: usize,
    out_channels: usize,
    kernel: [u8; 2],
    stride: [u8; 2],
    padding: [u8; 2],
) -> Result<(TensorShape, usize), &'static str> {
    if in_channels != input.channels {
        return Err("input channels differ from the channels of the previous tensor");
    }
    if out_channels == 0 || out_channels > MAX_CHANNELS {
        return Err("output channels outside 1..=MAX_CHANNELS");
    }
    let max_kernel = MAX_KERNEL as u8;
    if kernel
        .iter()
        .chain(&stride)
        .any(|&value| value == 0 || value > max_kernel)
    {
        return Err("kernel size or stride outside 1..=MAX_KERNEL");
    }
    if padding[0] >= kernel[0] || padding[1] >= kernel[1] {
        return Err("padding is not smaller than the kernel");
    }

    let output_side = |side: usize, axis: usize| -> Result<usize, &'static str> {
        let padded = side + 2 * usize::from(padding[axis]);
        let span = padded
            .checked_sub(usize::from(kernel[axis]))
            .ok_or("kernel is larger than the padded input")?;
        Ok(span / usize::from(stride[axis]) + 1)
    };
    let height = output_side(input.height, 0)?;
    let width = output_side(input.width, 1)?;
    if height > MAX_SPATIAL || width > MAX_SPATIAL {
        return Err("output height or width exceeds MAX_SPATIAL");
    }

    let fan_in = in_channels * usize::from(kernel[0]) * usize::from(kernel[1]);
    Ok((
        TensorShape {
            channels: out_channels,
            height,
            width,
        },
        fan_in,
    ))
}

fn check_channel(record: &[u8], activation: Activation) -> Result<(), &'static str> {
    let params = decode_channel(record);
    if params.bias.unsigned_abs() > MAX_ABS_BIAS.unsigned_abs() {
        return Err("bias magnitude exceeds MAX_ABS_BIAS");
    }
    if !is_positive_finite(params.weight_scale) {
        return Err("weight scale is not a finite positive number");
    }
    if !params.positive.is_valid() || !params.negative.is_valid() {
        return Err("requantization multiplier or shift out of range");
    }
    if activation == Activation::None && params.negative != params.positive {
        return Err("negative requantization differs from positive without an activation");
    }
    if record.get(18..20) != Some(&[0, 0]) {
        return Err("reserved bytes of a channel record are not 0");
    }
    Ok(())
}

fn decode_channel(record: &[u8]) -> ChannelParams {
    let shifts = le_bytes4(record, 16);
    ChannelParams {
        bias: i32::from_le_bytes(le_bytes4(record, 0)),
        weight_scale: f32::from_le_bytes(le_bytes4(record, 4)),
        positive: Requantization {
            multiplier: i32::from_le_bytes(le_bytes4(record, 8)),
            shift: shifts[0] as i8,
        },
        negative: Requantization {
            multiplier: i32::from_le_bytes(le_bytes4(record, 12)),
            shift: shifts[1] as i8,
        },
    }
}

fn decode_projection_row(record: &[u8]) -> ProjectionRow {
    ProjectionRow {
        bias: i32::from_le_bytes(le_bytes4(record, 0)),
        score_scale: f32::from_le_bytes(le_bytes4(record, 4)),
    }
}

/// One validated layer of a [`Model`].
#[derive(Clone, Copy, Debug)]
pub struct Layer<'a> {
    /// The operation.
    pub kind: LayerKind,
    /// The activation fused into the requantization.
    pub activation: Activation,
    /// Shape of the tensor the layer reads.
    pub input_shape: TensorShape,
    /// Scale of the tensor the layer reads.
    pub input_scale: f32,
    /// Zero point of the tensor the layer reads, also the value of convolution padding.
    pub input_zero_point: i8,
    /// Shape of the tensor the layer writes.
    pub output_shape: TensorShape,
    /// Scale of the tensor the layer writes.
    pub output_scale: f32,
    /// Zero point of the tensor the layer writes.
    pub output_zero_point: i8,
    fan_in: usize,
    channels: &'a [u8],
    weights: &'a [u8],
}

impl<'a> Layer<'a> {
    /// Returns the number of weights per output channel.
    pub fn fan_in(&self) -> usize {
        self.fan_in
    }

    /// Returns the per-output-channel parameters, in channel order.
    pub fn channels(&self) -> Channels<'a> {
        Channels {
            records: self.channels.chunks_exact(CHANNEL_RECORD_LEN),
        }
    }

    /// Returns the parameters of output channel `channel`, or `None` when there is no such
    /// channel.
    pub fn channel(&self, channel: usize) -> Option<ChannelParams> {
        self.channels().nth(channel)
    }

    /// Returns all weights: `output channels x fan-in` int8 values stored as bytes
    /// (`byte as i8`).
    pub fn weights(&self) -> &'a [u8] {
        self.weights
    }

    /// Returns one row of [`fan_in`](Self::fan_in) weight bytes per output channel.
    pub fn weight_rows(&self) -> ChunksExact<'a, u8> {
        self.weights.chunks_exact(self.fan_in.max(1))
    }

    fn output(&self) -> TensorInfo {
        TensorInfo {
            shape: self.output_shape,
            scale: self.output_scale,
            zero_point: self.output_zero_point,
        }
    }
}

/// Iterator over the layers of a [`Model`], from [`Model::layers`].
#[derive(Clone, Debug)]
pub struct Layers<'a> {
    reader: Reader<'a>,
    input: TensorInfo,
    index: usize,
    count: usize,
}

impl<'a> Iterator for Layers<'a> {
    type Item = Layer<'a>;

    fn next(&mut self) -> Option<Layer<'a>> {
        if self.index >= self.count {
            return None;
        }
        // The records were validated by `Model::parse`, so reading them again cannot fail.
        let layer = read_layer(&mut self.reader, self.index, self.input).ok()?;
        self.index += 1;
        self.input = layer.output();
        Some(layer)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = self.count - self.index;
        (remaining, Some(remaining))
    }
}

impl ExactSizeIterator for Layers<'_> {}

/// Iterator over the [`ChannelParams`] of a layer, from [`Layer::channels`].
#[derive(Clone, Debug)]
pub struct Channels<'a> {
    records: ChunksExact<'a, u8>,
}

impl Iterator for Channels<'_> {
    type Item = ChannelParams;

    // Inlining lets the kernels keep the decoded record in registers: on a Cortex-M4 it saves
    // about 2 % of the instructions of an inference and 500 bytes of code.
    #[inline]
    fn next(&mut self) -> Option<ChannelParams> {
        self.records.next().map(decode_channel)
    }

    fn nth(&mut self, n: usize) -> Option<ChannelParams> {
        self.records.nth(n).map(decode_channel)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.records.size_hint()
    }
}

impl ExactSizeIterator for Channels<'_> {}

/// The projection of a [`Model`] from the feature vector onto the scores.
#[derive(Clone, Copy, Debug)]
pub struct Projection<'a> {
    rows: &'a [u8],
    weights: &'a [u8],
    feature_size: usize,
}

impl<'a> Projection<'a> {
    /// Returns the number of rows, the latent size `s`.
    pub fn len(&self) -> usize {
        self.rows.len() / PROJECTION_ROW_LEN
    }

    /// Returns whether there are no rows (never the case in a parsed model).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Returns the per-row parameters, in row order.
    pub fn rows(&self) -> ProjectionRows<'a> {
        ProjectionRows {
            records: self.rows.chunks_exact(PROJECTION_ROW_LEN),
        }
    }

    /// Returns all weights: `s x feature size` int8 values stored as bytes (`byte as i8`).
    pub fn weights(&self) -> &'a [u8] {
        self.weights
    }

    /// Returns one row of feature-size weight bytes per score.
    pub fn weight_rows(&self) -> ChunksExact<'a, u8> {
        self.weights.chunks_exact(self.feature_size.max(1))
    }
}

/// Iterator over the [`ProjectionRow`]s, from [`Projection::rows`].
#[derive(Clone, Debug)]
pub struct ProjectionRows<'a> {
    records: ChunksExact<'a, u8>,
}

impl Iterator for ProjectionRows<'_> {
    type Item = ProjectionRow;

    fn next(&mut self) -> Option<ProjectionRow> {
        self.records.next().map(decode_projection_row)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.records.size_hint()
    }
}

impl ExactSizeIterator for ProjectionRows<'_> {}

/// Iterator over little-endian `f32` values.
#[derive(Clone, Debug)]
pub struct F32s<'a> {
    values: ChunksExact<'a, u8>,
}

impl<'a> F32s<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        F32s {
            values: bytes.chunks_exact(4),
        }
    }
}

impl Iterator for F32s<'_> {
    type Item = f32;

    fn next(&mut self) -> Option<f32> {
        self.values
            .next()
            .map(|bytes| f32::from_le_bytes(le_bytes4(bytes, 0)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.values.size_hint()
    }
}

impl ExactSizeIterator for F32s<'_> {}

/// Iterator over the cluster codes, one [`F32s`] of `k - 1` values per cluster.
#[derive(Clone, Debug)]
pub struct ClusterCodes<'a> {
    rows: ChunksExact<'a, u8>,
}

impl<'a> Iterator for ClusterCodes<'a> {
    type Item = F32s<'a>;

    fn next(&mut self) -> Option<F32s<'a>> {
        self.rows.next().map(F32s::new)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.rows.size_hint()
    }
}

impl ExactSizeIterator for ClusterCodes<'_> {}

/// Iterator over the cluster names, from [`Model::cluster_names`].
#[derive(Clone, Debug)]
pub struct Names<'a> {
    bytes: &'a [u8],
}

impl<'a> Iterator for Names<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let (&len, rest) = self.bytes.split_first()?;
        let (name, rest) = rest.split_at_checked(usize::from(len))?;
        self.bytes = rest;
        // Validated as UTF-8 by `Model::parse`.
        core::str::from_utf8(name).ok()
    }
}
