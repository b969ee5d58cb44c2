//! `host traverse`: grids of images decoded along cluster directions or latent dims.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use host::latent::{LATENT_FILE, LatentSummary};
use host::pictures::grid::Grid;
use host::pictures::traversal::{self, OnnxDecoder, ScoreDecoder};
use host::train::CHECKPOINT_FILE;
use host::trained::TrainedModel;

/// Multiple of the farthest point from which decoded images are checked to go back to their
/// cluster through the encoder. Nearer the origin no cluster dominates.
const CHECK_FROM: f32 = 0.5;

#[derive(Args, Debug)]
pub struct TraverseArgs {
    /// Run folder written by `host train`.
    #[arg(long, required_unless_present = "onnx")]
    run: Option<PathBuf>,
    /// Output PNG (default: traversal.png, or traversal-cluster<C>-dims.png with --along-dims,
    /// in RUN or else beside the --onnx file).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Images per row (default: 10 along cluster directions, 9 along dims so that the middle
    /// column is the centroid).
    #[arg(long)]
    steps: Option<usize>,
    /// How far each cluster row goes, as a multiple of the cluster's farthest training point
    /// (at least 1).
    #[arg(long, default_value_t = 1.5)]
    extrapolate: f32,
    /// Cluster whose centroid the --along-dims rows pass through.
    #[arg(long, value_name = "C", requires = "along_dims")]
    cluster: Option<usize>,
    /// Draw one row per latent dim k..s through the centroid of --cluster instead of one row
    /// per cluster direction.
    #[arg(long, requires = "cluster")]
    along_dims: bool,
    /// Half-width of the --along-dims rows, in within-cluster standard deviations of each dim.
    #[arg(long, default_value_t = 2.0)]
    range: f32,
    /// Pixels per image pixel in the output.
    #[arg(long, default_value_t = 2)]
    scale: u32,
    /// Decode with this exported decoder.onnx (run by tract) instead of the Burn checkpoint.
    #[arg(long, value_name = "FILE")]
    onnx: Option<PathBuf>,
    /// Latent summary to use (default: latent.json beside the --onnx file, else in RUN, where
    /// it is computed from the checkpoint when missing or stale).
    #[arg(long, value_name = "FILE")]
    latent: Option<PathBuf>,
    /// Folder with the data sets (default: the one the run was trained on). Used only when
    /// RUN/latent.json is computed.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

pub fn run(args: TraverseArgs) -> Result<()> {
    let steps = check_arguments(&args)?;

    // The Burn model is needed to decode without --onnx, and to compute a missing summary.
    let summary_file = summary_file(&args);
    let trained = match (&args.run, &args.onnx, &summary_file) {
        (Some(run), None, _) | (Some(run), Some(_), None) => Some(TrainedModel::load(run)?),
        _ => None,
    };
    let summary = match (&summary_file, &trained, &args.run) {
        (Some(path), _, _) => LatentSummary::read(path)?,
        (None, Some(trained), Some(run)) => {
            traversal::load_or_summarize(trained, run, args.data_dir.as_deref())?
        }
        _ => anyhow::bail!(
            "no latent summary found: pass --latent FILE, put {LATENT_FILE} beside the --onnx \
             file, or pass --run with a trained run"
        ),
    };
    if let Some(c) = args.cluster {
        anyhow::ensure!(
            c < summary.clusters,
            "--cluster {c} does not exist; the run has clusters 0..{}",
            summary.clusters - 1
        );
    }

    let onnx_decoder = match &args.onnx {
        Some(path) => Some(OnnxDecoder::load(path, summary.latent_size)?),
        None => None,
    };
    let decoder: &dyn ScoreDecoder = match (&onnx_decoder, &trained) {
        (Some(onnx), _) => onnx,
        (None, Some(trained)) => trained,
        (None, None) => unreachable!("without --onnx the run's checkpoint is loaded"),
    };

    let (grid, default_name) = match (args.along_dims, args.cluster) {
        (true, Some(c)) => (
            traversal::dims_grid(&summary, decoder, c, steps, args.range)?,
            format!("traversal-cluster{c}-dims.png"),
        ),
        _ => {
            if let Some(trained) = &trained {
                report_reassignment(trained, &summary, steps, args.extrapolate);
            }
            let grid = traversal::cluster_grid(&summary, decoder, steps, args.extrapolate)?;
            (grid, "traversal.png".to_string())
        }
    };
    let out = match (&args.out, &args.run, &args.onnx) {
        (Some(out), _, _) => out.clone(),
        (None, Some(run), _) => run.join(default_name),
        (None, None, Some(onnx)) => folder_of(onnx).join(default_name),
        (None, None, None) => unreachable!("clap requires --run or --onnx"),
    };
    save(&grid, args.scale, &out)
}

/// Largest accepted `--extrapolate`: ten times the farthest training point.
const MAX_EXTRAPOLATE: f32 = 10.0;

/// Largest accepted `--range`, in within-cluster standard deviations.
const MAX_RANGE: f32 = 20.0;

/// Checks the numeric arguments and returns the number of images per row.
fn check_arguments(args: &TraverseArgs) -> Result<usize> {
    anyhow::ensure!(
        (1.0..=MAX_EXTRAPOLATE).contains(&args.extrapolate),
        "--extrapolate {} is outside 1..={MAX_EXTRAPOLATE}; the rows must reach the farthest \
         training point and stay near the scores the decoder was trained on",
        args.extrapolate
    );
    anyhow::ensure!(
        (1..=16).contains(&args.scale),
        "--scale {} is outside 1..=16",
        args.scale
    );
    anyhow::ensure!(
        args.range > 0.0 && args.range <= MAX_RANGE,
        "--range {} is outside (0, {MAX_RANGE}]",
        args.range
    );
    let steps = args.steps.unwrap_or(if args.along_dims { 9 } else { 10 });
    anyhow::ensure!(
        (2..=64).contains(&steps),
        "--steps {steps} is outside 2..=64"
    );
    Ok(steps)
}

/// Summary file to read as it is: --latent, or latent.json beside the --onnx file, or RUN's
/// latent.json when the run has no checkpoint to recompute it from. `None` means RUN's summary
/// is loaded or computed from its checkpoint.
fn summary_file(args: &TraverseArgs) -> Option<PathBuf> {
    if let Some(path) = &args.latent {
        return Some(path.clone());
    }
    if let Some(onnx) = &args.onnx {
        let beside = folder_of(onnx).join(LATENT_FILE);
        if beside.exists() {
            return Some(beside);
        }
        let run = args.run.as_ref()?;
        if !run.join(CHECKPOINT_FILE).exists() {
            return Some(run.join(LATENT_FILE));
        }
    }
    None
}

fn folder_of(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Logs, per cluster, how many decoded images past `CHECK_FROM` the encoder assigns back.
fn report_reassignment(
    trained: &TrainedModel,
    summary: &LatentSummary,
    steps: usize,
    extrapolate: f32,
) {
    for c in 0..summary.clusters {
        let traversal = summary.cluster_traversal(c, steps, extrapolate);
        let (agreeing, count) =
            traversal::reassigned_to_cluster(trained, &traversal, c, CHECK_FROM);
        log::info!(
            "{}: farthest projection {:.3}; the encoder assigns {agreeing} of the {count} \
             images from t = {CHECK_FROM} on back to it",
            traversal::cluster_label(summary, c),
            summary.farthest_projection[c]
        );
    }
}

/// Renders `grid`, writes it as PNG and prints where.
fn save(grid: &Grid, scale: u32, out: &Path) -> Result<()> {
    let canvas = grid.render(scale);
    canvas.save_png(out)?;
    println!(
        "wrote {} ({} x {} pixels)",
        out.display(),
        canvas.width(),
        canvas.height()
    );
    Ok(())
}
