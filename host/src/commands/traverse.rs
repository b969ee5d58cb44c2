//! `host traverse`: grids of images decoded along cluster directions or latent dims.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use host::latent::LatentSummary;
use host::pictures::traversal;
use host::trained::TrainedModel;

/// Multiple of the farthest point from which decoded images are checked to go back to their
/// cluster through the encoder. Nearer the origin no cluster dominates.
const CHECK_FROM: f32 = 0.5;

#[derive(Args, Debug)]
pub struct TraverseArgs {
    /// Run folder written by `host train`.
    #[arg(long)]
    run: PathBuf,
    /// Output PNG (default: RUN/traversal.png, or RUN/traversal-cluster<C>-dims.png with
    /// --along-dims).
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
    #[arg(long, value_name = "C")]
    cluster: Option<usize>,
    /// Draw one row per latent dim k..s through the centroid of --cluster instead of one row
    /// per cluster direction.
    #[arg(long, requires = "cluster")]
    along_dims: bool,
    /// Half-width of the --along-dims rows, in within-cluster standard deviations of each dim.
    #[arg(long, default_value_t = 2.5)]
    range: f32,
    /// Pixels per image pixel in the output.
    #[arg(long, default_value_t = 2)]
    scale: u32,
    /// Folder with the data sets (default: the one the run was trained on). Used only when
    /// RUN/latent.json is missing or older than the checkpoint.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

pub fn run(args: TraverseArgs) -> Result<()> {
    anyhow::ensure!(
        args.extrapolate >= 1.0,
        "--extrapolate {} is below 1; the rows must reach the farthest training point",
        args.extrapolate
    );
    anyhow::ensure!(
        (1..=16).contains(&args.scale),
        "--scale {} is outside 1..=16",
        args.scale
    );
    anyhow::ensure!(args.range > 0.0, "--range {} must be positive", args.range);
    let steps = args.steps.unwrap_or(if args.along_dims { 9 } else { 10 });
    anyhow::ensure!(
        (2..=64).contains(&steps),
        "--steps {steps} is outside 2..=64"
    );

    let trained = TrainedModel::load(&args.run)?;
    let summary = traversal::load_or_summarize(&trained, &args.run, args.data_dir.as_deref())?;
    if let Some(c) = args.cluster {
        anyhow::ensure!(
            c < summary.clusters,
            "--cluster {c} does not exist; the run has clusters 0..{}",
            summary.clusters - 1
        );
    }

    let (grid, default_name) = match (args.along_dims, args.cluster) {
        (true, Some(c)) => (
            traversal::dims_grid(&summary, &trained, c, steps, args.range)?,
            format!("traversal-cluster{c}-dims.png"),
        ),
        _ => {
            report_reassignment(&trained, &summary, steps, args.extrapolate);
            let grid = traversal::cluster_grid(&summary, &trained, steps, args.extrapolate)?;
            (grid, "traversal.png".to_string())
        }
    };
    let out = args.out.unwrap_or_else(|| args.run.join(default_name));
    save(&grid.render(args.scale), &out)
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

/// Writes `canvas` as PNG and prints where.
fn save(canvas: &host::pictures::canvas::Canvas, out: &Path) -> Result<()> {
    canvas.save_png(out)?;
    println!(
        "wrote {} ({} x {} pixels)",
        out.display(),
        canvas.width(),
        canvas.height()
    );
    Ok(())
}
