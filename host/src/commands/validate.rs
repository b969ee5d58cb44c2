//! `host validate`: compare an export with the Burn model on the test split.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use host::latent::{LATENT_FILE, LatentSummary};
use host::pictures::traversal;
use host::train::write_json;
use host::trained::TrainedModel;
use host::validate::{self, Thresholds, ValidateOptions};

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Run folder written by `host train`.
    #[arg(long)]
    run: PathBuf,
    /// Export folder written by `host export` (default: <run>/export).
    #[arg(long)]
    export: Option<PathBuf>,
    /// Folder with mnist/ and fashion-mnist/ (default: the run's data folder).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Validate on the first N test images only (default: all).
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Largest allowed |score| difference between encoder.onnx and Burn.
    #[arg(long, default_value_t = 1e-4)]
    max_score_diff: f64,
    /// Largest allowed pixel difference between decoder.onnx and Burn.
    #[arg(long, default_value_t = 1e-4)]
    max_image_diff: f64,
    /// Smallest allowed fraction of images with the same encoder.onnx and Burn cluster.
    #[arg(long, default_value_t = 1.0)]
    min_onnx_agreement: f64,
    /// Smallest allowed fraction of images with the same fixed-point and float cluster.
    #[arg(long, default_value_t = 0.995)]
    min_fixed_point_agreement: f64,
    /// Largest allowed mean absolute difference of the top membership, fixed point vs float.
    #[arg(long, default_value_t = 0.02)]
    max_strength_mae: f64,
    /// Largest allowed drop of the fixed-point test accuracy below the float one, as a
    /// fraction (0.005 is half a percentage point).
    #[arg(long, default_value_t = 0.005)]
    max_acc_drop: f64,
}

/// Checks that every threshold is a finite number and every fraction lies in 0..=1.
fn check_thresholds(args: &ValidateArgs) -> Result<()> {
    let thresholds = [
        ("--max-score-diff", args.max_score_diff, false),
        ("--max-image-diff", args.max_image_diff, false),
        ("--min-onnx-agreement", args.min_onnx_agreement, true),
        (
            "--min-fixed-point-agreement",
            args.min_fixed_point_agreement,
            true,
        ),
        ("--max-strength-mae", args.max_strength_mae, false),
        ("--max-acc-drop", args.max_acc_drop, true),
    ];
    for (name, value, fraction) in thresholds {
        let upper = if fraction { 1.0 } else { f64::MAX };
        anyhow::ensure!(
            value.is_finite() && (0.0..=upper).contains(&value),
            "{name} is {value}; it must be a finite number {}",
            if fraction {
                "from 0 to 1"
            } else {
                "of at least 0"
            }
        );
    }
    anyhow::ensure!(
        args.limit != Some(0),
        "--limit is 0; validate on at least 1 test image"
    );
    Ok(())
}

/// Checks that the export's `latent.json` names the run's current checkpoint. Another digest
/// means that the run was trained further, or again, after the export.
fn check_export_is_current(run_dir: &Path, export_dir: &Path) -> Result<()> {
    let path = export_dir.join(LATENT_FILE);
    if !path.exists() {
        log::warn!(
            "{} is missing, so the export cannot be matched to the run's checkpoint",
            path.display()
        );
        return Ok(());
    }
    let exported = LatentSummary::read(&path)?.checkpoint_digest;
    let current = traversal::checkpoint_digest(run_dir)?;
    anyhow::ensure!(
        exported == current,
        "the export in {} was written from another checkpoint than the one now in {}; run \
         host export --run {} again",
        export_dir.display(),
        run_dir.display(),
        run_dir.display()
    );
    Ok(())
}

pub fn run(args: ValidateArgs) -> Result<()> {
    check_thresholds(&args)?;
    let export_dir = args
        .export
        .clone()
        .unwrap_or_else(|| args.run.join("export"));
    let trained = TrainedModel::load(&args.run)?;
    check_export_is_current(&args.run, &export_dir)?;
    let options = ValidateOptions {
        data_dir: args.data_dir.clone(),
        limit: args.limit,
    };
    let validation = validate::validate(&trained, &export_dir, &options)?;
    let path = export_dir.join(validate::VALIDATION_FILE);
    write_json(&path, &validation)?;

    let thresholds = Thresholds {
        max_score_diff: args.max_score_diff,
        max_image_diff: args.max_image_diff,
        min_onnx_agreement: args.min_onnx_agreement,
        min_fixed_point_agreement: args.min_fixed_point_agreement,
        max_strength_mae: args.max_strength_mae,
        max_acc_drop: args.max_acc_drop,
    };
    let checks = validation.checks(&thresholds);
    println!(
        "{} test images; float test ACC {:.4}; model file {} bytes",
        validation.images, validation.float_test_acc, validation.model_file_bytes
    );
    println!("{:<30} {:>10} {:>12}  result", "check", "value", "target");
    for check in &checks {
        println!("{check}");
    }
    println!("results in {}", path.display());

    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| !c.passed())
        .map(|c| c.name)
        .collect();
    anyhow::ensure!(
        failed.is_empty(),
        "validation failed: {}",
        failed.join(", ")
    );
    Ok(())
}
