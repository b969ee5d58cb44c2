//! Pictures of a trained run: traversal grids of decoded images and the latent scatter plot.
//!
//! Generation decodes a chosen score vector `e*` as `x* = psi(U e*)`. Walking from the origin
//! along a cluster code past the farthest training point exaggerates what the cluster is about.
//! Walking along the dims beyond the cluster subspace shows the variation inside a cluster.

pub mod canvas;
pub mod grid;
pub mod latent_plot;
pub mod scene;
pub mod traversal;

use std::path::Path;

use anyhow::Result;

use crate::data::Split;
use crate::evaluate;
use crate::latent::{self, LatentSummary};
use crate::trained::TrainedModel;
use latent_plot::LatentPlot;

/// Scatter plot of the run's test images in the first two latent dims, with the cluster
/// directions of `summary`.
///
/// Only the first `limit` test images are plotted, or the first `test_limit` of the run's
/// configuration when `limit` is `None`.
pub fn test_plot(
    trained: &TrainedModel,
    summary: &LatentSummary,
    data_dir: Option<&Path>,
    limit: Option<usize>,
) -> Result<LatentPlot> {
    let config = &trained.config;
    let (k, s) = (config.clusters, config.latent_size);
    anyhow::ensure!(
        s >= 2,
        "the latent size is {s}; the plot needs at least 2 latent dims"
    );
    let mut dataset = trained.dataset(data_dir, Split::Test)?;
    if let Some(limit) = limit.or(config.test_limit) {
        dataset = dataset.take_first(limit);
    }
    let scores = trained.scores(&dataset);
    let assignments = latent::assign(&scores, s, k);
    let classes = evaluate::class_indices(&dataset, config);

    // A cluster direction is `t s_c` in the first k - 1 dims and 0 elsewhere; for k = 2 its
    // second plotted coordinate is such a 0.
    let directions = (0..k)
        .map(|c| {
            let code = &summary.cluster_codes[c];
            let scale = summary.farthest_projection[c];
            [scale * code[0], scale * code.get(1).copied().unwrap_or(0.0)]
        })
        .collect();
    let cluster_colors = (0..k)
        .map(|c| summary.cluster_classes[c].unwrap_or(c))
        .collect();
    let cluster_names = (0..k)
        .map(|c| traversal::cluster_label(summary, c))
        .collect();
    let class_names = config
        .preset
        .cluster_names()
        .iter()
        .map(|name| name.to_string())
        .collect();
    let title = if k > 3 {
        format!(
            "{}: {} test images in latent dims e1 and e2 of the {}-dim cluster subspace",
            config.preset,
            dataset.len(),
            k - 1
        )
    } else {
        format!(
            "{}: {} test images in latent dims e1 and e2",
            config.preset,
            dataset.len()
        )
    };
    Ok(LatentPlot {
        title,
        scores,
        latent_size: s,
        assignments,
        classes,
        cluster_names,
        cluster_colors,
        class_names,
        directions,
    })
}
