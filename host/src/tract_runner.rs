//! Runs the exported `encoder.onnx` and `decoder.onnx` with tract, batch by batch.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use tract_onnx::prelude::Tensor as TractTensor;
use tract_onnx::prelude::{
    DatumExt, Framework, InferenceModelExt, IntoRunnable, TValue, TypedRunnableModel, tvec,
};
use tract_onnx::tract_hir::internal::DimLike;

/// One ONNX file, optimised by tract for a dynamic batch size.
pub struct OnnxModel {
    plan: Arc<TypedRunnableModel>,
    path: PathBuf,
}

impl OnnxModel {
    /// Loads and optimises the model in `path`.
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_with_input_shape(path, None)
    }

    /// Loads the model in `path` and, when `input_shape` is given, fixes the shape of its
    /// first input (batch size included) before optimising, which lets tract plan for it.
    pub fn load_with_input_shape(path: &Path, input_shape: Option<&[usize]>) -> Result<Self> {
        let plan = tract_onnx::onnx()
            .model_for_path(path)
            .and_then(|model| match input_shape {
                Some(shape) => model.with_input_fact(0, f32::fact(shape).into()),
                None => Ok(model),
            })
            .and_then(|model| model.into_optimized())
            .and_then(|model| model.into_runnable())
            .with_context(|| format!("tract cannot load {}", path.display()))?;
        Ok(Self {
            plan,
            path: path.to_path_buf(),
        })
    }

    /// Loads and optimises a model from its protobuf bytes; `name` replaces the path in error
    /// messages.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Self> {
        let plan = tract_onnx::onnx()
            .model_for_read(&mut &bytes[..])
            .and_then(|model| model.into_optimized())
            .and_then(|model| model.into_runnable())
            .with_context(|| format!("tract cannot load {name}"))?;
        Ok(Self {
            plan,
            path: PathBuf::from(name),
        })
    }

    /// Returns the dims of the first input, `None` for a symbolic one such as the batch size.
    pub fn input_dims(&self) -> Result<Vec<Option<usize>>> {
        let fact = self
            .plan
            .model()
            .input_fact(0)
            .with_context(|| format!("{} has no input", self.path.display()))?;
        Ok(fact.shape.iter().map(|dim| dim.to_usize().ok()).collect())
    }

    /// Runs one batch of `f32` values with shape `shape` and returns every output.
    pub fn run(&self, values: &[f32], shape: &[usize]) -> Result<Vec<TValue>> {
        let input = TractTensor::from_shape(shape, values)
            .with_context(|| format!("invalid input shape {shape:?}"))?;
        let outputs = self
            .plan
            .run(tvec!(input.into()))
            .with_context(|| format!("tract failed to run {}", self.path.display()))?;
        Ok(outputs.into_iter().collect())
    }
}

/// Outputs of `encoder.onnx` for `n` images.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EncoderOutputs {
    /// `[n, s]` row-major.
    pub scores: Vec<f32>,
    /// `[n, k]` row-major.
    pub membership: Vec<f32>,
    /// `[n]`.
    pub cluster: Vec<i64>,
}

/// Runs `encoder.onnx` on `images` (`[n, 28 * 28]` pixels in `[0, 1]`) in batches of `batch`.
pub fn encode(model: &OnnxModel, images: &[f32], batch: usize) -> Result<EncoderOutputs> {
    let image_len = 28 * 28;
    let mut outputs = EncoderOutputs::default();
    for chunk in images.chunks(batch.max(1) * image_len) {
        let n = chunk.len() / image_len;
        let values = model.run(chunk, &[n, 1, 28, 28])?;
        let [scores, membership, cluster] = values.as_slice() else {
            anyhow::bail!(
                "{} has {} outputs, expected scores, membership and cluster",
                model.path.display(),
                values.len()
            );
        };
        outputs.scores.extend(f32_values(scores)?);
        outputs.membership.extend(f32_values(membership)?);
        let cluster = cluster
            .to_plain_array_view::<i64>()
            .context("cluster is not int64")?;
        outputs.cluster.extend(cluster.iter().copied());
    }
    Ok(outputs)
}

/// Runs `decoder.onnx` on `scores` (`[n, s]`) in batches of `batch` and returns the images,
/// `[n, 28 * 28]`.
pub fn decode(
    model: &OnnxModel,
    scores: &[f32],
    latent_size: usize,
    batch: usize,
) -> Result<Vec<f32>> {
    match model.input_dims()?.as_slice() {
        [_, Some(size)] if *size == latent_size => {}
        [_, Some(size)] => anyhow::bail!(
            "{} decodes score vectors of size {size}, but the latent summary has latent size \
             {latent_size}; use the latent.json that host export wrote beside this decoder",
            model.path.display()
        ),
        [_, _, _, _] => anyhow::bail!(
            "{} takes images, not score vectors; pass the decoder.onnx of the export",
            model.path.display()
        ),
        dims => anyhow::bail!(
            "{} has an input of {} dims; a GenKSC decoder.onnx takes [N, s] score vectors",
            model.path.display(),
            dims.len()
        ),
    }
    let mut images = Vec::with_capacity(scores.len() / latent_size * 28 * 28);
    for chunk in scores.chunks(batch.max(1) * latent_size) {
        let n = chunk.len() / latent_size;
        let values = model.run(chunk, &[n, latent_size])?;
        let image = values.first().context("decoder.onnx has no output")?;
        images.extend(f32_values(image)?);
    }
    Ok(images)
}

fn f32_values(value: &TValue) -> Result<Vec<f32>> {
    let view = value
        .to_plain_array_view::<f32>()
        .context("output is not f32")?;
    Ok(view.iter().copied().collect())
}
