//! Traversal grids of a trained run: decoded images along cluster directions and along the
//! latent dims beyond the cluster subspace.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use super::grid::{Grid, GridRow, IMAGE_SIDE};
use crate::data::{Dataset, Split};
use crate::evaluate;
use crate::latent::{self, LATENT_FILE, LatentSummary, Traversal};
use crate::tract_runner::{self, OnnxModel};
use crate::train::CHECKPOINT_FILE;
use crate::trained::TrainedModel;

/// Score vectors per tract run of `decoder.onnx`.
const ONNX_BATCH: usize = 64;

/// Maps score vectors `[n, s]` (row-major) to images `psi(U e)`, `[n, 28 * 28]` in `[0, 1]`.
pub trait ScoreDecoder {
    fn decode_scores(&self, scores: &[f32]) -> Result<Vec<f32>>;
}

impl ScoreDecoder for TrainedModel {
    fn decode_scores(&self, scores: &[f32]) -> Result<Vec<f32>> {
        Ok(self.decode(scores))
    }
}

/// An exported `decoder.onnx` (input `scores` `[n, s]`, output `image` `[n, 1, 28, 28]`) run by
/// tract, for pictures without the Burn checkpoint.
pub struct OnnxDecoder {
    model: OnnxModel,
    latent_size: usize,
}

impl OnnxDecoder {
    /// Loads and optimises the decoder in `path` for score vectors of `latent_size` entries.
    pub fn load(path: &Path, latent_size: usize) -> Result<Self> {
        Ok(Self {
            model: OnnxModel::load(path)?,
            latent_size,
        })
    }
}

impl ScoreDecoder for OnnxDecoder {
    fn decode_scores(&self, scores: &[f32]) -> Result<Vec<f32>> {
        tract_runner::decode(&self.model, scores, self.latent_size, ONNX_BATCH)
    }
}

/// Computes the latent summary of `trained` from its training images (the first
/// `train_limit` of the split when the run had one).
pub fn summarize(
    trained: &TrainedModel,
    run_dir: &Path,
    data_dir: Option<&Path>,
) -> Result<LatentSummary> {
    let config = &trained.config;
    let mut dataset = trained.dataset(data_dir, Split::Train)?;
    if let Some(limit) = config.train_limit {
        dataset = dataset.take_first(limit);
    }
    let scores = trained.scores(&dataset);
    summary_of_scores(trained, run_dir, &dataset, &scores)
}

/// Computes the latent summary of the training scores `[n, s]` of `dataset` under the
/// checkpoint in `run_dir`.
pub fn summary_of_scores(
    trained: &TrainedModel,
    run_dir: &Path,
    dataset: &Dataset,
    scores: &[f32],
) -> Result<LatentSummary> {
    let config = &trained.config;
    let classes = evaluate::class_indices(dataset, config);
    let digest = checkpoint_digest(run_dir)?;
    LatentSummary::from_scores(config.preset, config.clusters, scores, &classes, digest)
}

/// Reads `run_dir/latent.json` when it was computed from the current checkpoint, and otherwise
/// computes it from the training images and writes it there.
pub fn load_or_summarize(
    trained: &TrainedModel,
    run_dir: &Path,
    data_dir: Option<&Path>,
) -> Result<LatentSummary> {
    let path = run_dir.join(LATENT_FILE);
    if path.exists() {
        match LatentSummary::read(&path) {
            Ok(summary) if summary.checkpoint_digest == checkpoint_digest(run_dir)? => {
                log::info!("using the latent summary in {}", path.display());
                return Ok(summary);
            }
            Ok(_) => log::info!(
                "{} is from an older checkpoint; recomputing it",
                path.display()
            ),
            Err(error) => log::warn!("recomputing {}: {error:#}", path.display()),
        }
    }
    log::info!("computing the latent summary from the training images");
    let summary = summarize(trained, run_dir, data_dir)?;
    summary.write(&path)?;
    log::info!("wrote {}", path.display());
    Ok(summary)
}

/// Digest of the run's checkpoint file, as stored in [`LatentSummary::checkpoint_digest`].
pub fn checkpoint_digest(run_dir: &Path) -> Result<String> {
    let path = run_dir.join(CHECKPOINT_FILE);
    let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(latent::digest(&bytes))
}

/// Text of cluster `c` in labels: its number and the class matched to it.
pub fn cluster_label(summary: &LatentSummary, c: usize) -> String {
    let names = summary.preset.cluster_names();
    match summary.cluster_classes[c] {
        Some(class) => format!("cluster {c} ({})", names[class]),
        None => format!("cluster {c}"),
    }
}

/// Decodes one row per cluster, from the origin along the cluster code to `extrapolate` times
/// the farthest training point, which is framed.
pub fn cluster_grid(
    summary: &LatentSummary,
    decoder: &dyn ScoreDecoder,
    steps: usize,
    extrapolate: f32,
) -> Result<Grid> {
    let mut rows = Vec::with_capacity(summary.clusters);
    let mut positions = Vec::new();
    for c in 0..summary.clusters {
        let traversal = summary.cluster_traversal(c, steps, extrapolate);
        let images = decode_checked(decoder, &traversal, summary.latent_size)?;
        let names = summary.preset.cluster_names();
        let class = summary.cluster_classes[c].map(|class| names[class].to_string());
        rows.push(GridRow {
            label: [
                Some(format!("cluster {c}")),
                class,
                Some(format!("{} images", summary.cluster_sizes[c])),
            ]
            .into_iter()
            .flatten()
            .collect(),
            images,
            marked: traversal.marked,
        });
        positions = traversal.positions;
    }
    Ok(Grid {
        title: format!(
            "{}: decoded t * farthest point along each cluster direction",
            summary.preset
        ),
        column_labels: positions.iter().map(|t| format!("{t:.2}")).collect(),
        rows,
        legend: "red frame: the farthest training point of the cluster (t = 1)".into(),
    })
}

/// Decodes one row per latent dim beyond the cluster subspace (dims `k..s`, counted from 1).
/// Each row passes through cluster `c`'s centroid, from `-range` to `+range` within-cluster
/// standard deviations of that dim.
pub fn dims_grid(
    summary: &LatentSummary,
    decoder: &dyn ScoreDecoder,
    c: usize,
    steps: usize,
    range: f32,
) -> Result<Grid> {
    let (k, s) = (summary.clusters, summary.latent_size);
    anyhow::ensure!(
        s > k - 1,
        "the latent size s = {s} equals k - 1, so there are no dims beyond the cluster subspace"
    );
    let mut rows = Vec::with_capacity(s - (k - 1));
    let mut positions = Vec::new();
    for dim in k - 1..s {
        let traversal = summary.dim_traversal(c, dim, steps, range);
        let images = decode_checked(decoder, &traversal, s)?;
        rows.push(GridRow {
            label: vec![
                format!("e{}", dim + 1),
                format!("sd {:.2}", summary.spreads[c][dim]),
            ],
            images,
            marked: traversal.marked,
        });
        positions = traversal.positions;
    }
    Ok(Grid {
        title: format!(
            "{}, {}: decoded centroid + x sd along dims e{k}..e{s}",
            summary.preset,
            cluster_label(summary, c)
        ),
        column_labels: positions.iter().map(|x| format!("{x:+.1}")).collect(),
        rows,
        legend: "red frame: the cluster's centroid; sd: standard deviation of the dim in the \
                 cluster"
            .into(),
    })
}

fn decode_checked(
    decoder: &dyn ScoreDecoder,
    traversal: &Traversal,
    latent_size: usize,
) -> Result<Vec<f32>> {
    let images = decoder.decode_scores(&traversal.scores)?;
    let expected = traversal.scores.len() / latent_size * IMAGE_SIDE * IMAGE_SIDE;
    anyhow::ensure!(
        images.len() == expected,
        "the decoder returned {} values for {} score vectors, expected {expected} (28 x 28 each)",
        images.len(),
        traversal.scores.len() / latent_size
    );
    Ok(images)
}

/// Counts the decoded images at `traversal` positions of at least `from` that the encoder
/// assigns back to cluster `c`; returns `(assigned to c, images counted)`.
pub fn reassigned_to_cluster(
    trained: &TrainedModel,
    traversal: &Traversal,
    c: usize,
    from: f32,
) -> (usize, usize) {
    let s = trained.config.latent_size;
    let selected: Vec<f32> = traversal
        .scores
        .chunks_exact(s)
        .zip(&traversal.positions)
        .filter(|&(_, &position)| position >= from)
        .flat_map(|(row, _)| row.iter().copied())
        .collect();
    let images = trained.decode(&selected);
    let count = selected.len() / s;
    let dataset = Dataset {
        images,
        // The encoder ignores labels; these only give the dataset its length.
        labels: vec![0; count],
        rows: IMAGE_SIDE,
        cols: IMAGE_SIDE,
    };
    let scores = trained.scores(&dataset);
    let assignments = latent::assign(&scores, s, trained.config.clusters);
    let agreeing = assignments
        .iter()
        .filter(|&&assigned| assigned == c)
        .count();
    (agreeing, count)
}
