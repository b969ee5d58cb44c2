//! Export of a trained run: `encoder.onnx`, `decoder.onnx` and the fixed-point `model.gksc`,
//! all built from the run's [`EncoderGraph`](crate::graph::EncoderGraph) and
//! [`DecoderGraph`](crate::graph::DecoderGraph), and the run's latent summary `latent.json`,
//! which `host traverse --onnx` reads beside the decoder.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use model_format::{FormatError, Model, VERSION};
use thiserror::Error;

use crate::data::Split;
use crate::latent::LATENT_FILE;
use crate::onnx;
use crate::pictures::traversal;
use crate::quantize;
use crate::train::write_json;
use crate::trained::TrainedModel;
use crate::validate::VALIDATION_FILE;

/// File name of the ONNX encoder in an export folder.
pub const ENCODER_FILE: &str = "encoder.onnx";

/// File name of the ONNX decoder in an export folder.
pub const DECODER_FILE: &str = "decoder.onnx";

/// File name of the fixed-point model in an export folder.
pub const MODEL_FILE: &str = "model.gksc";

/// File name of the export summary in an export folder.
pub const SUMMARY_FILE: &str = "export.json";

/// Settings of [`export`].
#[derive(Clone, Debug)]
pub struct ExportOptions {
    /// Training images that calibrate the int8 activation ranges (the first ones of the split).
    pub calibration_images: usize,
    /// Data folder; `None` uses the run's own.
    pub data_dir: Option<PathBuf>,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            calibration_images: 1000,
            data_dir: None,
        }
    }
}

/// Sizes and settings of the files [`export`] writes, also stored as `export.json`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ExportSummary {
    pub encoder_onnx_bytes: usize,
    pub decoder_onnx_bytes: usize,
    pub model_file_bytes: usize,
    pub calibration_images: usize,
    /// Training images whose cluster centroids were decoded into the prototypes.
    pub prototype_images: usize,
    pub uncertain_threshold: f32,
    pub onnx_opset: i64,
}

/// Writes `encoder.onnx`, `decoder.onnx`, `model.gksc`, `latent.json` and `export.json` into
/// `out_dir`, for the model that [`TrainedModel::load`] read from `run_dir`.
///
/// The prototypes are the decoded centroids of the run's training images (all of them, or
/// the run's training limit), and the first `options.calibration_images` of them calibrate
/// the fixed-point model.
pub fn export(
    trained: &TrainedModel,
    run_dir: &Path,
    out_dir: &Path,
    options: &ExportOptions,
) -> Result<ExportSummary> {
    anyhow::ensure!(
        options.calibration_images > 0,
        "--calibration-images is 0; calibrate on at least 1 training image (default 1000)"
    );
    let mut train = trained.dataset(options.data_dir.as_deref(), Split::Train)?;
    if let Some(limit) = trained.config.train_limit {
        train = train.take_first(limit);
    }
    anyhow::ensure!(!train.is_empty(), "the training split has no images");

    // Everything is computed before the first file is written, so a failed export leaves an
    // older export folder as it was.
    let train_scores = trained.scores(&train);
    let prototypes = trained.prototypes(&train_scores);
    let encoder = trained.encoder_graph(prototypes);
    let decoder = trained.decoder_graph()?;
    let latent = traversal::summary_of_scores(trained, run_dir, &train, &train_scores)?;
    let encoder_bytes = onnx::to_bytes(&onnx::encoder_model(&encoder)?);
    let decoder_bytes = onnx::to_bytes(&onnx::decoder_model(&decoder)?);

    let calibration = train.take_first(options.calibration_images).images;
    let threshold = trained.config.uncertain_threshold as f32;
    let spec = quantize::quantize(&encoder, &calibration, threshold)
        .context("cannot quantize the encoder")?;
    let model_bytes = spec
        .to_bytes()
        .context("cannot write the fixed-point model")?;

    fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create the export folder {}", out_dir.display()))?;
    write_file(&out_dir.join(ENCODER_FILE), &encoder_bytes)?;
    write_file(&out_dir.join(DECODER_FILE), &decoder_bytes)?;
    write_file(&out_dir.join(MODEL_FILE), &model_bytes)?;
    latent.write(&out_dir.join(LATENT_FILE))?;
    // A validation report of the files just replaced no longer describes them.
    fs::remove_file(out_dir.join(VALIDATION_FILE)).or_else(|error| match error.kind() {
        io::ErrorKind::NotFound => Ok(()),
        _ => Err(error),
    })?;

    let summary = ExportSummary {
        encoder_onnx_bytes: encoder_bytes.len(),
        decoder_onnx_bytes: decoder_bytes.len(),
        model_file_bytes: model_bytes.len(),
        calibration_images: calibration.len() / train.image_size(),
        prototype_images: train.len(),
        uncertain_threshold: threshold,
        onnx_opset: onnx::OPSET,
    };
    write_json(&out_dir.join(SUMMARY_FILE), &summary)?;
    Ok(summary)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Reason a model file could not be loaded.
///
/// The underlying error is part of each message and not a `source`, so that printing the
/// error chain does not repeat it after the advice.
#[derive(Debug, Error)]
pub enum ModelFileError {
    #[error(
        "cannot read the model file {}: {error}; export one with \
         `cargo run --release -p host -- export --run <run folder>`",
        path.display()
    )]
    Io { path: PathBuf, error: io::Error },
    #[error(
        "model file {} is truncated: it needs at least {needed} bytes but has {available}; \
         copy it again or export it again",
        path.display()
    )]
    Truncated {
        path: PathBuf,
        needed: usize,
        available: usize,
    },
    #[error(
        "model file {} has format version {version}, but this build reads version {VERSION}; \
         use a newer GenKSC build or export the model again with this one",
        path.display()
    )]
    UnsupportedVersion { path: PathBuf, version: u16 },
    #[error(
        "model file {} is corrupt ({error}); export it again with \
         `cargo run --release -p host -- export --run <run folder>`",
        path.display()
    )]
    Corrupt { path: PathBuf, error: FormatError },
}

/// A model file read into memory and validated.
#[derive(Clone, Debug)]
pub struct ModelFile {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

impl ModelFile {
    /// Reads and validates the model file in `path`.
    ///
    /// # Errors
    ///
    /// One [`ModelFileError`] per cause: unreadable, truncated, from another format version,
    /// or corrupt (bad magic, checksum mismatch or an invalid field).
    pub fn read(path: &Path) -> Result<Self, ModelFileError> {
        let bytes = fs::read(path).map_err(|error| ModelFileError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        let path = path.to_path_buf();
        match Model::parse(&bytes) {
            Ok(_) => Ok(Self { path, bytes }),
            Err(FormatError::Truncated { needed, available }) => Err(ModelFileError::Truncated {
                path,
                needed,
                available,
            }),
            Err(FormatError::UnsupportedVersion { version }) => {
                Err(ModelFileError::UnsupportedVersion { path, version })
            }
            Err(error) => Err(ModelFileError::Corrupt { path, error }),
        }
    }

    /// The parsed model.
    pub fn model(&self) -> Model<'_> {
        Model::parse(&self.bytes).expect("the bytes were validated when read")
    }
}
