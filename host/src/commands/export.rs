//! `host export`: write the ONNX models and the fixed-point model file of a run.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use host::export::{self, ExportOptions};
use host::trained::TrainedModel;

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Run folder written by `host train`.
    #[arg(long)]
    run: PathBuf,
    /// Output folder (default: <run>/export).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Training images that calibrate the int8 activation ranges.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    calibration_images: usize,
    /// Folder with mnist/ and fashion-mnist/ (default: the run's data folder).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

pub fn run(args: ExportArgs) -> Result<()> {
    let out_dir = args.out.unwrap_or_else(|| args.run.join("export"));
    let trained = TrainedModel::load(&args.run)?;
    let options = ExportOptions {
        calibration_images: args.calibration_images,
        data_dir: args.data_dir,
    };
    let summary = export::export(&trained, &args.run, &out_dir, &options)?;
    println!(
        "wrote {} ({} bytes), {} ({} bytes), {} ({} bytes, calibrated on {} images) and {} to {}",
        export::ENCODER_FILE,
        summary.encoder_onnx_bytes,
        export::DECODER_FILE,
        summary.decoder_onnx_bytes,
        export::MODEL_FILE,
        summary.model_file_bytes,
        summary.calibration_images,
        host::latent::LATENT_FILE,
        out_dir.display()
    );
    Ok(())
}
