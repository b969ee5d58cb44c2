//! Statistics of a trained run's latent space and the score vectors of latent traversals.
//!
//! A [`LatentSummary`] contains what the pictures need from the training scores: the cluster
//! codes, the projection of each cluster's farthest training point on its code, and each
//! cluster's centroid and spread. It is stored as `latent.json` so that traversals can be drawn
//! from an exported decoder alone, without the Burn checkpoint or the training images.
//!
//! `latent.json` (format version 1) is one JSON object:
//!
//! | field | shape | meaning |
//! | --- | --- | --- |
//! | `version` | | 1 |
//! | `preset` | | `"mnist012"` or `"fashion-mnist"` |
//! | `clusters`, `latent_size` | | `k` and `s` |
//! | `checkpoint_digest` | | FNV-1a 64 of the checkpoint file, in hex, to detect a stale summary |
//! | `training_images` | | number of training images the statistics come from |
//! | `cluster_codes` | `[k][k - 1]` | unit simplex vertices `s_c` |
//! | `cluster_classes` | `[k]` | class index matched to each cluster (Hungarian), or `null` |
//! | `cluster_sizes` | `[k]` | training images assigned to each cluster |
//! | `farthest_projection` | `[k]` | `max e'.s_c` over the training points assigned to `c` |
//! | `centroids` | `[k][s]` | mean score vector of each cluster's training points |
//! | `spreads` | `[k][s]` | standard deviation of each score entry within each cluster |

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::data::Preset;
use crate::ksc;
use crate::metrics;

/// File name of the summary in a run or export folder.
pub const LATENT_FILE: &str = "latent.json";

/// Format version written to and accepted from `latent.json`.
pub const LATENT_VERSION: u32 = 1;

/// Latent-space statistics of a trained run, computed from its training scores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatentSummary {
    pub version: u32,
    pub preset: Preset,
    /// Number of clusters `k`.
    pub clusters: usize,
    /// Latent size `s`.
    pub latent_size: usize,
    /// FNV-1a 64 digest of the checkpoint the scores came from, as 16 hex digits.
    pub checkpoint_digest: String,
    pub training_images: usize,
    /// Cluster codes `s_c`, `[k][k - 1]`.
    pub cluster_codes: Vec<Vec<f32>>,
    /// Class index (into the preset's class list) matched to each cluster by the Hungarian
    /// algorithm on the training labels.
    pub cluster_classes: Vec<Option<usize>>,
    pub cluster_sizes: Vec<usize>,
    /// Largest projection `e'.s_c` of a training point assigned to cluster `c`.
    pub farthest_projection: Vec<f32>,
    /// Mean score vector of each cluster's training points, `[k][s]`.
    pub centroids: Vec<Vec<f32>>,
    /// Standard deviation of each score entry over each cluster's training points, `[k][s]`.
    pub spreads: Vec<Vec<f32>>,
}

/// Score vectors of one row of a picture grid and where each lies on its path.
#[derive(Clone, Debug, PartialEq)]
pub struct Traversal {
    /// Score vectors, `[steps, s]` row-major.
    pub scores: Vec<f32>,
    /// Position of each column along the path, in the unit of the path (see the constructors).
    pub positions: Vec<f32>,
    /// Column that shows a reference point: the farthest training point or the centroid.
    pub marked: Option<usize>,
}

impl LatentSummary {
    /// Computes the summary from training scores `[n, s]` (row-major) and class indices `[n]`.
    pub fn from_scores(
        preset: Preset,
        clusters: usize,
        scores: &[f32],
        classes: &[usize],
        checkpoint_digest: String,
    ) -> Result<Self> {
        let k = clusters;
        anyhow::ensure!(k >= 2, "a summary needs at least 2 clusters, got {k}");
        let n = classes.len();
        anyhow::ensure!(n > 0, "no training scores to summarise");
        anyhow::ensure!(
            scores.len().is_multiple_of(n),
            "{} score values do not split into {n} rows",
            scores.len()
        );
        let s = scores.len() / n;
        anyhow::ensure!(
            s >= k - 1,
            "latent size {s} is smaller than k - 1 = {}",
            k - 1
        );

        let codes = ksc::simplex_codes(k);
        let assignments = assign(scores, s, k);
        let matching = metrics::accuracy(&assignments, classes);
        let cluster_classes = (0..k).map(|c| matching.label_for(c)).collect();

        let mut sizes = vec![0usize; k];
        let mut farthest = vec![f32::NEG_INFINITY; k];
        let mut sums = vec![vec![0.0f64; s]; k];
        let mut squares = vec![vec![0.0f64; s]; k];
        for (row, &c) in scores.chunks_exact(s).zip(&assignments) {
            sizes[c] += 1;
            farthest[c] = farthest[c].max(dot(&row[..k - 1], &codes[c]));
            for (j, &value) in row.iter().enumerate() {
                sums[c][j] += f64::from(value);
                squares[c][j] += f64::from(value).powi(2);
            }
        }
        if let Some(empty) = sizes.iter().position(|&size| size == 0) {
            anyhow::bail!(
                "cluster {empty} has no training points, so it has no farthest point; \
                 the model has collapsed to fewer than {k} clusters"
            );
        }

        let mut centroids = vec![vec![0.0f32; s]; k];
        let mut spreads = vec![vec![0.0f32; s]; k];
        for c in 0..k {
            let count = sizes[c] as f64;
            for j in 0..s {
                let mean = sums[c][j] / count;
                let variance = (squares[c][j] / count - mean * mean).max(0.0);
                centroids[c][j] = mean as f32;
                spreads[c][j] = variance.sqrt() as f32;
            }
        }
        Ok(Self {
            version: LATENT_VERSION,
            preset,
            clusters: k,
            latent_size: s,
            checkpoint_digest,
            training_images: n,
            cluster_codes: codes,
            cluster_classes,
            cluster_sizes: sizes,
            farthest_projection: farthest,
            centroids,
            spreads,
        })
    }

    /// Reads and checks a summary written by [`LatentSummary::write`].
    pub fn read(path: &Path) -> Result<Self> {
        let text = fs::read_to_string(path)
            .with_context(|| format!("cannot read the latent summary {}", path.display()))?;
        let summary: Self = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid latent summary", path.display()))?;
        summary
            .validate()
            .with_context(|| format!("{} is not a valid latent summary", path.display()))?;
        Ok(summary)
    }

    /// Writes the summary as pretty-printed JSON.
    ///
    /// The text goes to a temporary file that is then renamed, so that a concurrent reader sees
    /// the old or the new summary but never a partial one.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("the summary serialises");
        let temporary = path.with_extension(format!("json.{}.tmp", std::process::id()));
        let written =
            fs::write(&temporary, text + "\n").and_then(|()| fs::rename(&temporary, path));
        if written.is_err() {
            // Best effort: the write or rename error below is the one worth reporting.
            let _ = fs::remove_file(&temporary);
        }
        written.with_context(|| format!("cannot write the latent summary {}", path.display()))
    }

    /// Checks the version and that every array has the shape that `clusters` and
    /// `latent_size` give.
    pub fn validate(&self) -> Result<()> {
        anyhow::ensure!(
            self.version == LATENT_VERSION,
            "format version {} is not supported; this program reads version {LATENT_VERSION}",
            self.version
        );
        let (k, s) = (self.clusters, self.latent_size);
        anyhow::ensure!(k >= 2 && s >= k - 1, "invalid sizes k = {k}, s = {s}");
        let shapes = [
            ("cluster_codes", self.cluster_codes.len(), k),
            ("cluster_classes", self.cluster_classes.len(), k),
            ("cluster_sizes", self.cluster_sizes.len(), k),
            ("farthest_projection", self.farthest_projection.len(), k),
            ("centroids", self.centroids.len(), k),
            ("spreads", self.spreads.len(), k),
        ];
        for (name, actual, expected) in shapes {
            anyhow::ensure!(
                actual == expected,
                "{name} has {actual} rows, expected {expected}"
            );
        }
        for c in 0..k {
            let rows = [
                ("cluster_codes", self.cluster_codes[c].len(), k - 1),
                ("centroids", self.centroids[c].len(), s),
                ("spreads", self.spreads[c].len(), s),
            ];
            for (name, actual, expected) in rows {
                anyhow::ensure!(
                    actual == expected,
                    "{name}[{c}] has {actual} entries, expected {expected}"
                );
            }
        }
        Ok(())
    }

    /// Path from the origin along cluster `c`'s code `s_c` (zeros in dims `k..s`) to
    /// `extrapolate` times the farthest training point.
    ///
    /// The columns are evenly spaced and one of them lies exactly on the farthest point; it is
    /// `marked`. Positions are multiples of the farthest projection, so the marked column has
    /// position 1. The last position is `(steps - 1) / round((steps - 1) / extrapolate)`, which
    /// equals `extrapolate` when that division is exact and is close to it otherwise.
    pub fn cluster_traversal(&self, c: usize, steps: usize, extrapolate: f32) -> Traversal {
        let farthest_column = farthest_column(steps, extrapolate);
        let positions: Vec<f32> = (0..steps)
            .map(|i| i as f32 / farthest_column as f32)
            .collect();
        let scale = self.farthest_projection[c];
        let s = self.latent_size;
        let mut scores = vec![0.0f32; steps * s];
        for (row, &position) in scores.chunks_exact_mut(s).zip(&positions) {
            for (value, &code) in row.iter_mut().zip(&self.cluster_codes[c]) {
                *value = position * scale * code;
            }
        }
        Traversal {
            scores,
            positions,
            marked: Some(farthest_column),
        }
    }

    /// Path through cluster `c`'s centroid along latent dim `dim` (0-based), from `-range` to
    /// `+range` standard deviations of that dim within the cluster.
    ///
    /// Positions are in those standard deviations. With an odd `steps` the middle column is the
    /// centroid itself and is `marked`.
    pub fn dim_traversal(&self, c: usize, dim: usize, steps: usize, range: f32) -> Traversal {
        let s = self.latent_size;
        let positions: Vec<f32> = (0..steps)
            .map(|i| {
                let fraction = if steps > 1 {
                    i as f32 / (steps - 1) as f32
                } else {
                    0.5
                };
                range * (2.0 * fraction - 1.0)
            })
            .collect();
        let spread = self.spreads[c][dim];
        let mut scores = Vec::with_capacity(steps * s);
        for &position in &positions {
            let mut row = self.centroids[c].clone();
            row[dim] += position * spread;
            scores.extend(row);
        }
        Traversal {
            scores,
            positions,
            marked: (steps % 2 == 1).then_some(steps / 2),
        }
    }
}

/// Column of the farthest training point when `steps` columns reach about `extrapolate` times
/// it: `round((steps - 1) / extrapolate)`, kept in `1..=steps - 1`.
///
/// # Panics
/// When `steps < 2` or `extrapolate < 1`.
pub fn farthest_column(steps: usize, extrapolate: f32) -> usize {
    assert!(
        steps >= 2,
        "a traversal needs at least 2 columns, got {steps}"
    );
    assert!(
        extrapolate >= 1.0,
        "extrapolate must be at least 1, got {extrapolate}"
    );
    let column = ((steps - 1) as f32 / extrapolate).round() as usize;
    column.clamp(1, steps - 1)
}

/// Assigns each score vector of `[n, s]` to the cluster whose code is nearest in cosine distance
/// to its first `k - 1` entries.
pub fn assign(scores: &[f32], s: usize, k: usize) -> Vec<usize> {
    let cluster_scores: Vec<f32> = scores
        .chunks_exact(s)
        .flat_map(|row| row[..k - 1].iter().copied())
        .collect();
    let codes: Vec<f32> = ksc::simplex_codes(k).into_iter().flatten().collect();
    let distances = metrics::cosine_distances(&cluster_scores, &codes, k);
    metrics::hard_assignments(&distances, k)
}

/// FNV-1a 64 of `bytes` as 16 hex digits. It detects a changed checkpoint; it is not a
/// cryptographic hash.
pub fn digest(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scores `[n, 3]` of six points for k = 3: two along each code, plus a third entry.
    fn line_scores() -> (Vec<f32>, Vec<usize>) {
        let codes = ksc::simplex_codes(3);
        let mut scores = Vec::new();
        let mut classes = Vec::new();
        for (c, code) in codes.iter().enumerate() {
            for (length, extra) in [(1.0, -1.0), (3.0, 3.0)] {
                scores.extend([length * code[0], length * code[1], extra + c as f32]);
                classes.push(2 - c);
            }
        }
        (scores, classes)
    }

    fn summary() -> LatentSummary {
        let (scores, classes) = line_scores();
        LatentSummary::from_scores(Preset::Mnist012, 3, &scores, &classes, digest(b"x")).unwrap()
    }

    #[test]
    fn summary_statistics_per_cluster() {
        let summary = summary();
        assert_eq!(summary.latent_size, 3);
        assert_eq!(summary.cluster_sizes, vec![2, 2, 2]);
        for c in 0..3 {
            assert!((summary.farthest_projection[c] - 3.0).abs() < 1e-5);
            assert!((summary.centroids[c][2] - (1.0 + c as f32)).abs() < 1e-5);
            assert!((summary.spreads[c][2] - 2.0).abs() < 1e-5);
            assert_eq!(summary.cluster_classes[c], Some(2 - c));
        }
    }

    #[test]
    fn summary_rejects_empty_cluster() {
        let codes = ksc::simplex_codes(3);
        let scores = [codes[0][0], codes[0][1], codes[1][0], codes[1][1]];
        let error =
            LatentSummary::from_scores(Preset::Mnist012, 3, &scores, &[0, 1], String::new())
                .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("cluster 2 has no training points"),
            "{error}"
        );
    }

    #[test]
    fn summary_json_round_trip() {
        let summary = summary();
        let path = std::env::temp_dir().join(format!("latent-{}.json", std::process::id()));
        summary.write(&path).unwrap();
        let read = LatentSummary::read(&path).unwrap();
        fs::remove_file(&path).unwrap();
        assert_eq!(read, summary);
    }

    #[test]
    fn validate_rejects_wrong_shapes() {
        let mut summary = summary();
        summary.spreads[1].pop();
        let error = summary.validate().unwrap_err();
        assert!(
            error
                .to_string()
                .contains("spreads[1] has 2 entries, expected 3"),
            "{error}"
        );

        let mut summary = self::summary();
        summary.version = 2;
        let error = summary.validate().unwrap_err();
        assert!(error.to_string().contains("version 2"), "{error}");
    }

    #[test]
    fn farthest_column_hits_extrapolation() {
        assert_eq!(farthest_column(10, 1.5), 6);
        assert_eq!(farthest_column(10, 1.0), 9);
        assert_eq!(farthest_column(11, 2.0), 5);
        assert_eq!(farthest_column(2, 100.0), 1);
    }

    #[test]
    fn cluster_traversal_follows_code() {
        let summary = summary();
        let traversal = summary.cluster_traversal(1, 10, 1.5);
        assert_eq!(traversal.marked, Some(6));
        assert_eq!(traversal.positions.len(), 10);
        assert!((traversal.positions[9] - 1.5).abs() < 1e-6);

        let code = &summary.cluster_codes[1];
        let rows: Vec<&[f32]> = traversal.scores.chunks_exact(3).collect();
        assert_eq!(rows[0], &[0.0, 0.0, 0.0]);
        let marked = rows[6];
        assert!((marked[0] - 3.0 * code[0]).abs() < 1e-5);
        assert!((marked[1] - 3.0 * code[1]).abs() < 1e-5);
        assert_eq!(marked[2], 0.0);
        // Every point past the origin lies on cluster 1's side.
        assert!(assign(&traversal.scores[3..], 3, 3).iter().all(|&c| c == 1));
    }

    #[test]
    fn cluster_traversal_for_ten_clusters() {
        // Two points along each of the 10 codes in 9 cluster dims, plus 3 more latent dims.
        let codes = ksc::simplex_codes(10);
        let mut scores = Vec::new();
        let mut classes = Vec::new();
        for (c, code) in codes.iter().enumerate() {
            for length in [0.5, 2.0] {
                scores.extend(code.iter().map(|value| length * value));
                scores.extend([0.1, 0.2, 0.3]);
                classes.push(c);
            }
        }
        let summary =
            LatentSummary::from_scores(Preset::FashionMnist, 10, &scores, &classes, String::new())
                .unwrap();
        assert_eq!(summary.latent_size, 12);

        for c in 0..10 {
            assert!((summary.farthest_projection[c] - 2.0).abs() < 1e-5);
            assert_eq!(summary.cluster_classes[c], Some(c));
            let traversal = summary.cluster_traversal(c, 10, 1.5);
            let rows: Vec<&[f32]> = traversal.scores.chunks_exact(12).collect();
            assert!(
                rows.iter().all(|row| row[9..] == [0.0; 3]),
                "cluster {c}: dims 10..12"
            );
            let assigned = assign(&traversal.scores[12..], 12, 10);
            assert!(
                assigned.iter().all(|&a| a == c),
                "cluster {c}: {assigned:?}"
            );
        }
    }

    #[test]
    fn dim_traversal_centres_on_centroid() {
        let summary = summary();
        let traversal = summary.dim_traversal(2, 2, 5, 2.0);
        assert_eq!(traversal.marked, Some(2));
        assert_eq!(traversal.positions, vec![-2.0, -1.0, 0.0, 1.0, 2.0]);
        let rows: Vec<&[f32]> = traversal.scores.chunks_exact(3).collect();
        assert_eq!(rows[2], summary.centroids[2].as_slice());
        assert!((rows[0][2] - (3.0 - 4.0)).abs() < 1e-5);
        assert!((rows[4][2] - (3.0 + 4.0)).abs() < 1e-5);
        assert_eq!(rows[0][..2], summary.centroids[2][..2]);

        assert_eq!(summary.dim_traversal(0, 2, 4, 1.0).marked, None);
    }

    #[test]
    fn digest_matches_fnv1a_reference() {
        // FNV-1a 64 reference values: "" and "a".
        assert_eq!(digest(b""), "cbf29ce484222325");
        assert_eq!(digest(b"a"), "af63dc4c8601ec8c");
    }
}
