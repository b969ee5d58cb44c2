//! Clustering metrics (ACC, NMI, ARI) and soft kernel spectral clustering memberships.
//!
//! ACC, NMI and ARI follow the definitions and degenerate-case conventions of scikit-learn 1.9
//! (`normalized_mutual_info_score` with arithmetic averaging, `adjusted_rand_score`) and of
//! scipy's `linear_sum_assignment`. The membership and average membership strength follow soft
//! kernel spectral clustering (Langone, Mall and Suykens, 2013).

use std::collections::HashMap;

/// Result of [`accuracy`]: the best one-to-one mapping of clusters to labels and its accuracy.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterAccuracy {
    /// Fraction of points whose cluster maps to their label, in [0, 1].
    pub accuracy: f64,
    /// Number of points whose cluster maps to their label.
    pub correct: usize,
    /// `(cluster, label)` pairs sorted by cluster. A cluster is missing when there are more
    /// distinct clusters than distinct labels and it was left unmatched.
    pub mapping: Vec<(usize, usize)>,
}

impl ClusterAccuracy {
    /// Returns the label that `cluster` maps to, if it was matched.
    pub fn label_for(&self, cluster: usize) -> Option<usize> {
        self.mapping
            .iter()
            .find(|&&(mapped_cluster, _)| mapped_cluster == cluster)
            .map(|&(_, label)| label)
    }
}

/// Contingency table of predicted clusters (rows) against true labels (columns), built over the
/// distinct values that occur, in ascending order.
struct Contingency {
    clusters: Vec<usize>,
    labels: Vec<usize>,
    /// Row-major counts, `clusters.len() x labels.len()`.
    counts: Vec<u64>,
}

impl Contingency {
    fn new(predictions: &[usize], labels: &[usize]) -> Contingency {
        assert_eq!(
            predictions.len(),
            labels.len(),
            "predictions and labels must have the same length"
        );
        let (clusters, cluster_index) = distinct_values(predictions);
        let (label_values, label_index) = distinct_values(labels);
        let mut counts = vec![0u64; clusters.len() * label_values.len()];
        for (prediction, label) in predictions.iter().zip(labels) {
            counts[cluster_index[prediction] * label_values.len() + label_index[label]] += 1;
        }
        Contingency {
            clusters,
            labels: label_values,
            counts,
        }
    }

    fn row_sums(&self) -> Vec<u64> {
        if self.labels.is_empty() {
            return vec![0; self.clusters.len()];
        }
        self.counts
            .chunks_exact(self.labels.len())
            .map(|row| row.iter().sum())
            .collect()
    }

    fn column_sums(&self) -> Vec<u64> {
        let mut sums = vec![0u64; self.labels.len()];
        for row in self.counts.chunks_exact(self.labels.len().max(1)) {
            for (sum, &count) in sums.iter_mut().zip(row) {
                *sum += count;
            }
        }
        sums
    }
}

/// Returns the sorted distinct values and a map from each value to its position.
fn distinct_values(values: &[usize]) -> (Vec<usize>, HashMap<usize, usize>) {
    let mut distinct = values.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let index = distinct
        .iter()
        .enumerate()
        .map(|(position, &value)| (value, position))
        .collect();
    (distinct, index)
}

/// Computes clustering accuracy (ACC): the fraction of points labelled correctly under the
/// one-to-one mapping of clusters to labels that maximizes that fraction.
///
/// Cluster and label values may be arbitrary and their counts may differ. The mapping is found
/// with the Hungarian algorithm on the contingency table. An empty input has accuracy 0.
///
/// # Panics
/// When `predictions` and `labels` differ in length.
pub fn accuracy(predictions: &[usize], labels: &[usize]) -> ClusterAccuracy {
    let table = Contingency::new(predictions, labels);
    let rows = table.clusters.len();
    let cols = table.labels.len();
    // Maximizing the matched counts is minimizing their negation.
    let cost: Vec<i64> = table.counts.iter().map(|&count| -(count as i64)).collect();
    let assignment = min_cost_assignment(&cost, rows, cols);

    let mut correct = 0u64;
    let mut mapping = Vec::new();
    for (row, column) in assignment.iter().enumerate() {
        if let Some(column) = *column {
            correct += table.counts[row * cols + column];
            mapping.push((table.clusters[row], table.labels[column]));
        }
    }
    let total = predictions.len();
    ClusterAccuracy {
        accuracy: if total == 0 {
            0.0
        } else {
            correct as f64 / total as f64
        },
        correct: correct as usize,
        mapping,
    }
}

/// Solves the linear assignment problem for a row-major `rows x cols` cost matrix and returns,
/// for each row, the column assigned to it.
///
/// The matrix is padded with zero costs to a square, and the Hungarian algorithm with row and
/// column potentials runs in O(n^3) for n = max(rows, cols). Every row gets a column when
/// `rows <= cols`, otherwise `rows - cols` rows get `None`. The total cost is minimal, as with
/// scipy's `linear_sum_assignment`, but ties may be broken differently.
pub fn min_cost_assignment(cost: &[i64], rows: usize, cols: usize) -> Vec<Option<usize>> {
    assert_eq!(
        cost.len(),
        rows * cols,
        "cost matrix must have rows * cols entries"
    );
    let size = rows.max(cols);
    let cost_at = |row: usize, col: usize| {
        if row < rows && col < cols {
            cost[row * cols + col]
        } else {
            0
        }
    };

    // Index 0 is a sentinel, so rows and columns are numbered from 1 inside the loop.
    // `row_of_column[j]` is the row matched to column j, or 0 when column j is free.
    let mut row_potential = vec![0i64; size + 1];
    let mut column_potential = vec![0i64; size + 1];
    let mut row_of_column = vec![0usize; size + 1];
    let mut previous_column = vec![0usize; size + 1];

    for row in 1..=size {
        // Grow an alternating tree from `row` with Dijkstra-like steps on reduced costs until a
        // free column is reached, then augment along the path.
        row_of_column[0] = row;
        let mut column = 0;
        let mut min_reduced = vec![i64::MAX; size + 1];
        let mut visited = vec![false; size + 1];
        loop {
            visited[column] = true;
            let tree_row = row_of_column[column];
            let mut delta = i64::MAX;
            let mut next_column = 0;
            for j in 1..=size {
                if visited[j] {
                    continue;
                }
                let reduced =
                    cost_at(tree_row - 1, j - 1) - row_potential[tree_row] - column_potential[j];
                if reduced < min_reduced[j] {
                    min_reduced[j] = reduced;
                    previous_column[j] = column;
                }
                if min_reduced[j] < delta {
                    delta = min_reduced[j];
                    next_column = j;
                }
            }
            for j in 0..=size {
                if visited[j] {
                    row_potential[row_of_column[j]] += delta;
                    column_potential[j] -= delta;
                } else {
                    min_reduced[j] -= delta;
                }
            }
            column = next_column;
            if row_of_column[column] == 0 {
                break;
            }
        }
        while column != 0 {
            let previous = previous_column[column];
            row_of_column[column] = row_of_column[previous];
            column = previous;
        }
    }

    let mut assignment = vec![None; rows];
    for (column, &row) in row_of_column.iter().enumerate().skip(1) {
        if row >= 1 && row <= rows && column <= cols {
            assignment[row - 1] = Some(column - 1);
        }
    }
    assignment
}

/// Computes normalized mutual information, with the mutual information divided by the arithmetic
/// mean of the two entropies (scikit-learn's default).
///
/// Conventions as in scikit-learn: 1 when both sides have a single value or the input is empty,
/// and 0 when the mutual information is 0 (for example one side has a single value and the other
/// several). The value is symmetric in its arguments.
///
/// # Panics
/// When `predictions` and `labels` differ in length.
pub fn nmi(predictions: &[usize], labels: &[usize]) -> f64 {
    let table = Contingency::new(predictions, labels);
    let cluster_count = table.clusters.len();
    let label_count = table.labels.len();
    if cluster_count == label_count && cluster_count <= 1 {
        return 1.0;
    }

    let total = predictions.len() as f64;
    let row_sums = table.row_sums();
    let column_sums = table.column_sums();
    let mut mutual_information = 0.0;
    for (row, &row_sum) in row_sums.iter().enumerate() {
        for (col, &column_sum) in column_sums.iter().enumerate() {
            let count = table.counts[row * label_count + col];
            if count > 0 {
                let count = count as f64;
                let expected = row_sum as f64 * column_sum as f64;
                mutual_information += count / total * (total * count / expected).ln();
            }
        }
    }
    // Rounding can leave a tiny nonzero value where the true mutual information is 0.
    if mutual_information <= f64::EPSILON {
        return 0.0;
    }
    let mean_entropy = (entropy(&row_sums, total) + entropy(&column_sums, total)) / 2.0;
    mutual_information / mean_entropy
}

/// Returns the entropy in nats of a distribution given by counts summing to `total`.
fn entropy(counts: &[u64], total: f64) -> f64 {
    counts
        .iter()
        .filter(|&&count| count > 0)
        .map(|&count| {
            let probability = count as f64 / total;
            -probability * probability.ln()
        })
        .sum()
}

/// Computes the adjusted Rand index.
///
/// The value is 1 for identical partitions up to renaming, about 0 for random ones, and can be
/// negative. As in scikit-learn it is 1 when no pair of points is split by one partition and
/// joined by the other, which covers empty input and both sides having a single value.
///
/// # Panics
/// When `predictions` and `labels` differ in length.
pub fn ari(predictions: &[usize], labels: &[usize]) -> f64 {
    let table = Contingency::new(predictions, labels);
    let total = predictions.len() as i128;
    // Pair counts over ordered pairs of distinct points, as scikit-learn's pair_confusion_matrix.
    // The products below are exact in i128 for up to 2^31 points.
    let sum_squares: i128 = table
        .counts
        .iter()
        .map(|&count| (count as i128).pow(2))
        .sum();
    let row_squares: i128 = table
        .row_sums()
        .iter()
        .map(|&sum| (sum as i128).pow(2))
        .sum();
    let column_squares: i128 = table
        .column_sums()
        .iter()
        .map(|&sum| (sum as i128).pow(2))
        .sum();
    let together_in_both = sum_squares - total;
    let together_in_labels_only = column_squares - sum_squares;
    let together_in_predictions_only = row_squares - sum_squares;
    let apart_in_both =
        total * total - together_in_labels_only - together_in_predictions_only - sum_squares;

    if together_in_labels_only == 0 && together_in_predictions_only == 0 {
        return 1.0;
    }
    let numerator = 2
        * (together_in_both * apart_in_both
            - together_in_labels_only * together_in_predictions_only);
    let denominator = (together_in_both + together_in_labels_only)
        * (together_in_labels_only + apart_in_both)
        + (together_in_both + together_in_predictions_only)
            * (together_in_predictions_only + apart_in_both);
    numerator as f64 / denominator as f64
}

/// Computes cosine distances `1 - a.b / (|a| |b|)` from score vectors to cluster codes.
///
/// `codes` contains `k` codes of dimension `dim = codes.len() / k`, row-major. `scores_prefix`
/// contains the first `dim` score entries of `n` points, row-major, so it can be a single point.
/// The result is row-major `[n, k]`. A zero score vector or code has cosine similarity 0, so
/// distance 1.
///
/// # Panics
/// When `k` is 0, `codes.len()` is not a positive multiple of `k`, or `scores_prefix.len()` is
/// not a multiple of `dim`.
pub fn cosine_distances(scores_prefix: &[f32], codes: &[f32], k: usize) -> Vec<f32> {
    assert!(k > 0, "the number of clusters must be positive");
    assert!(
        !codes.is_empty() && codes.len().is_multiple_of(k),
        "codes must contain k = {k} vectors of equal positive dimension, got {} values",
        codes.len()
    );
    let dim = codes.len() / k;
    assert!(
        scores_prefix.len().is_multiple_of(dim),
        "scores must contain vectors of dimension {dim}, got {} values",
        scores_prefix.len()
    );

    let code_norms: Vec<f64> = codes.chunks_exact(dim).map(norm).collect();
    let mut distances = Vec::with_capacity(scores_prefix.len() / dim * k);
    for score in scores_prefix.chunks_exact(dim) {
        let score_norm = norm(score);
        for (code, &code_norm) in codes.chunks_exact(dim).zip(&code_norms) {
            let similarity = if score_norm == 0.0 || code_norm == 0.0 {
                0.0
            } else {
                dot(score, code) / (score_norm * code_norm)
            };
            distances.push((1.0 - similarity) as f32);
        }
    }
    distances
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum()
}

fn norm(a: &[f32]) -> f64 {
    dot(a, a).sqrt()
}

/// Computes the soft cluster memberships of one point from its `k` distances:
/// `cm_c = prod_{j != c} d_j / sum_l prod_{j != l} d_j`.
///
/// Without zero distances this equals `(1 / d_c) / sum_l (1 / d_l)`. The product form is used so
/// that a single zero distance gives membership 1 to its cluster and 0 to the others. When several
/// distances are zero the formula is 0/0, and those clusters share the membership equally.
/// Negative distances, which rounding in `1 - cos` can produce, count as 0.
pub fn membership(distances: &[f32]) -> Vec<f32> {
    let distances: Vec<f64> = distances.iter().map(|&d| f64::from(d).max(0.0)).collect();
    let k = distances.len();

    // products[c] = prod_{j != c} d_j, from prefix and suffix products in O(k).
    let mut products = vec![1.0f64; k];
    let mut prefix = 1.0;
    for c in 0..k {
        products[c] = prefix;
        prefix *= distances[c];
    }
    let mut suffix = 1.0;
    for c in (0..k).rev() {
        products[c] *= suffix;
        suffix *= distances[c];
    }

    let sum: f64 = products.iter().sum();
    if sum > 0.0 {
        return products
            .iter()
            .map(|&product| (product / sum) as f32)
            .collect();
    }
    let zero_count = distances.iter().filter(|&&d| d == 0.0).count();
    distances
        .iter()
        .map(|&d| {
            if d == 0.0 {
                1.0 / zero_count as f32
            } else {
                0.0
            }
        })
        .collect()
}

/// Applies [`membership`] to each row of a row-major `[n, k]` distance matrix.
pub fn memberships(distances: &[f32], k: usize) -> Vec<f32> {
    assert!(k > 0, "the number of clusters must be positive");
    assert!(
        distances.len().is_multiple_of(k),
        "distances must be a multiple of k = {k} values"
    );
    distances.chunks_exact(k).flat_map(membership).collect()
}

/// Returns the index of the smallest distance, the first one on ties. NaN never wins against a
/// number.
///
/// # Panics
/// When `distances` is empty.
pub fn argmin(distances: &[f32]) -> usize {
    assert!(!distances.is_empty(), "argmin of an empty slice");
    let mut best = 0;
    for (index, &distance) in distances.iter().enumerate().skip(1) {
        let best_distance = distances[best];
        if distance < best_distance || (best_distance.is_nan() && !distance.is_nan()) {
            best = index;
        }
    }
    best
}

/// Assigns each row of a row-major `[n, k]` distance matrix to its nearest cluster.
pub fn hard_assignments(distances: &[f32], k: usize) -> Vec<usize> {
    assert!(k > 0, "the number of clusters must be positive");
    assert!(
        distances.len().is_multiple_of(k),
        "distances must be a multiple of k = {k} values"
    );
    distances.chunks_exact(k).map(argmin).collect()
}

/// Computes the average membership strength
/// `AMS = 1/k * sum_c mean_{i assigned to c} cm_c(i)`, in [0, 1], higher is better.
///
/// `memberships` is row-major `[n, k]` and `assignments` contains each point's cluster. An empty
/// cluster contributes 0 to the sum, so a solution that leaves clusters empty scores lower.
///
/// # Panics
/// When the lengths disagree or an assignment is not below `k`.
pub fn average_membership_strength(memberships: &[f32], assignments: &[usize], k: usize) -> f64 {
    assert!(k > 0, "the number of clusters must be positive");
    assert_eq!(
        memberships.len(),
        assignments.len() * k,
        "memberships must hold k = {k} values per assigned point"
    );
    let mut sums = vec![0.0f64; k];
    let mut counts = vec![0usize; k];
    for (row, &cluster) in memberships.chunks_exact(k).zip(assignments) {
        assert!(cluster < k, "assignment {cluster} is not below k = {k}");
        sums[cluster] += f64::from(row[cluster]);
        counts[cluster] += 1;
    }
    let total: f64 = sums
        .iter()
        .zip(&counts)
        .map(|(&sum, &count)| if count == 0 { 0.0 } else { sum / count as f64 })
        .sum();
    total / k as f64
}

/// Returns the number of points assigned to each of the `k` clusters.
///
/// # Panics
/// When an assignment is not below `k`.
pub fn cluster_sizes(assignments: &[usize], k: usize) -> Vec<usize> {
    let mut sizes = vec![0usize; k];
    for &cluster in assignments {
        assert!(cluster < k, "assignment {cluster} is not below k = {k}");
        sizes[cluster] += 1;
    }
    sizes
}

/// Computes the balance `min_c |A_c| / max_c |A_c|` of cluster sizes, in [0, 1]. It is 0 when any
/// of the `k` clusters is empty, including when there are no points.
///
/// # Panics
/// When an assignment is not below `k`.
pub fn balance(assignments: &[usize], k: usize) -> f64 {
    let sizes = cluster_sizes(assignments, k);
    let smallest = sizes.iter().copied().min().unwrap_or(0);
    let largest = sizes.iter().copied().max().unwrap_or(0);
    if smallest == 0 {
        return 0.0;
    }
    smallest as f64 / largest as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOLERANCE: f64 = 1e-12;

    /// (name, predictions, labels, ACC, NMI, ARI).
    type ReferenceCase = (
        &'static str,
        &'static [usize],
        &'static [usize],
        f64,
        f64,
        f64,
    );

    /// Output of scripts/metrics_reference.py with scikit-learn 1.9.1, scipy 1.17.1 and numpy
    /// 2.4.6. ACC comes from scipy's linear_sum_assignment, NMI from normalized_mutual_info_score
    /// (arithmetic mean) and ARI from adjusted_rand_score.
    const REFERENCE_CASES: &[ReferenceCase] = &[
        (
            "permuted perfect",
            &[2, 2, 0, 0, 1, 1],
            &[0, 0, 1, 1, 2, 2],
            1.0,
            1.0,
            1.0,
        ),
        (
            "split one class",
            &[0, 0, 1, 1, 2, 2],
            &[0, 0, 0, 1, 1, 1],
            0.6666666666666666,
            0.5158037429793889,
            0.24242424242424243,
        ),
        ("independent", &[0, 1, 0, 1], &[0, 0, 1, 1], 0.5, 0.0, -0.5),
        (
            "one cluster, three labels",
            &[0, 0, 0, 0, 0, 0],
            &[0, 0, 1, 1, 2, 2],
            0.3333333333333333,
            0.0,
            0.0,
        ),
        ("both single", &[3, 3, 3], &[1, 1, 1], 1.0, 1.0, 1.0),
        (
            "singletons, one label",
            &[0, 1, 2, 3],
            &[0, 0, 0, 0],
            0.25,
            0.0,
            0.0,
        ),
        (
            "sparse values",
            &[10, 10, 7, 7, 7, 42],
            &[1, 1, 5, 5, 9, 9],
            0.8333333333333334,
            0.7396673768007592,
            0.4444444444444444,
        ),
        (
            "more clusters",
            &[0, 1, 2, 3, 4, 0, 1, 2, 3],
            &[0, 0, 1, 1, 2, 2, 0, 1, 2],
            0.5555555555555556,
            0.5900250726218806,
            0.18181818181818182,
        ),
        (
            "fewer clusters",
            &[0, 0, 0, 1, 1, 1, 1, 0],
            &[0, 1, 2, 3, 0, 1, 2, 3],
            0.25,
            0.0,
            -0.2727272727272727,
        ),
        (
            "worse than chance",
            &[0, 1, 0, 1, 0, 1],
            &[0, 0, 0, 1, 1, 1],
            0.6666666666666666,
            0.08170416594551037,
            -0.1111111111111111,
        ),
        (
            "random n=40 k=3 noise=0.2",
            &[
                1, 0, 0, 2, 0, 1, 1, 1, 1, 1, 1, 2, 0, 1, 0, 0, 2, 2, 2, 1, 1, 0, 0, 2, 2, 1, 2, 0,
                0, 1, 0, 1, 0, 2, 2, 0, 0, 2, 1, 2,
            ],
            &[
                0, 1, 1, 2, 2, 0, 2, 0, 0, 1, 0, 2, 1, 2, 1, 1, 2, 2, 2, 0, 0, 1, 2, 2, 2, 0, 2, 1,
                1, 2, 0, 0, 1, 2, 2, 0, 2, 2, 0, 2,
            ],
            0.775,
            0.45232390849813525,
            0.4071888412017167,
        ),
        (
            "random n=50 k=3 noise=0.5",
            &[
                1, 1, 2, 0, 2, 2, 0, 2, 1, 2, 0, 1, 0, 1, 0, 2, 0, 0, 1, 0, 0, 1, 1, 0, 2, 0, 1, 2,
                2, 1, 2, 2, 2, 1, 2, 2, 2, 2, 0, 0, 2, 1, 2, 0, 0, 1, 1, 2, 2, 2,
            ],
            &[
                0, 0, 0, 0, 2, 0, 1, 1, 1, 0, 1, 1, 2, 1, 0, 0, 2, 1, 0, 1, 2, 2, 0, 2, 1, 0, 1, 1,
                1, 2, 1, 1, 1, 0, 2, 2, 1, 2, 2, 2, 1, 2, 1, 0, 2, 0, 1, 0, 0, 1,
            ],
            0.48,
            0.043394439022199666,
            0.015141116472563325,
        ),
        (
            "random n=60 k=10 noise=0.3",
            &[
                5, 9, 7, 3, 8, 5, 1, 2, 1, 2, 4, 9, 8, 5, 4, 4, 7, 6, 9, 5, 7, 1, 1, 2, 2, 9, 8, 6,
                5, 8, 3, 9, 0, 9, 1, 5, 1, 5, 1, 3, 8, 3, 1, 6, 9, 1, 3, 6, 2, 7, 2, 3, 1, 7, 0, 2,
                4, 1, 9, 2,
            ],
            &[
                3, 8, 0, 5, 7, 5, 1, 9, 5, 9, 6, 8, 4, 7, 6, 3, 0, 3, 8, 7, 0, 0, 1, 3, 9, 3, 4, 3,
                7, 0, 5, 9, 1, 8, 1, 7, 1, 7, 8, 5, 4, 5, 1, 3, 0, 1, 5, 3, 9, 0, 5, 2, 1, 1, 2, 9,
                6, 3, 8, 3,
            ],
            0.7,
            0.6378832554280889,
            0.3784291227704183,
        ),
        (
            "random n=80 k=10 noise=0.9",
            &[
                7, 9, 7, 7, 6, 0, 0, 2, 2, 3, 8, 8, 4, 1, 4, 3, 1, 1, 0, 1, 1, 2, 8, 2, 9, 8, 4, 2,
                3, 7, 1, 5, 5, 2, 2, 6, 8, 7, 3, 0, 1, 8, 3, 5, 6, 7, 2, 9, 4, 1, 9, 4, 6, 8, 0, 8,
                4, 8, 6, 1, 7, 5, 1, 2, 6, 9, 3, 4, 2, 5, 2, 1, 3, 4, 0, 4, 9, 5, 6, 7,
            ],
            &[
                8, 4, 9, 0, 5, 5, 5, 5, 3, 8, 9, 6, 7, 0, 4, 2, 2, 9, 4, 6, 6, 8, 5, 5, 0, 0, 6, 0,
                3, 9, 2, 2, 3, 4, 2, 8, 2, 2, 6, 9, 2, 3, 1, 6, 5, 7, 2, 1, 8, 2, 1, 6, 9, 0, 3, 0,
                3, 3, 2, 4, 4, 2, 9, 7, 7, 2, 2, 4, 5, 4, 6, 3, 7, 4, 2, 2, 4, 3, 9, 6,
            ],
            0.2625,
            0.24340956042137088,
            -0.00937079581336489,
        ),
    ];

    #[test]
    fn metrics_match_scikit_learn() {
        for &(name, predictions, labels, expected_acc, expected_nmi, expected_ari) in
            REFERENCE_CASES
        {
            let acc = accuracy(predictions, labels).accuracy;
            assert!(
                (acc - expected_acc).abs() < TOLERANCE,
                "{name}: ACC {acc} != {expected_acc}"
            );
            let nmi_value = nmi(predictions, labels);
            assert!(
                (nmi_value - expected_nmi).abs() < TOLERANCE,
                "{name}: NMI {nmi_value} != {expected_nmi}"
            );
            let ari_value = ari(predictions, labels);
            assert!(
                (ari_value - expected_ari).abs() < TOLERANCE,
                "{name}: ARI {ari_value} != {expected_ari}"
            );
        }
    }

    #[test]
    fn metrics_are_symmetric() {
        for &(name, predictions, labels, ..) in REFERENCE_CASES {
            let swapped_acc = accuracy(labels, predictions).accuracy;
            assert!((accuracy(predictions, labels).accuracy - swapped_acc).abs() < TOLERANCE);
            assert!(
                (nmi(predictions, labels) - nmi(labels, predictions)).abs() < TOLERANCE,
                "{name}"
            );
            assert!(
                (ari(predictions, labels) - ari(labels, predictions)).abs() < TOLERANCE,
                "{name}"
            );
        }
    }

    #[test]
    fn accuracy_mapping_counts_correct_points() {
        for &(name, predictions, labels, ..) in REFERENCE_CASES {
            let result = accuracy(predictions, labels);
            let recount = predictions
                .iter()
                .zip(labels)
                .filter(|&(&cluster, &label)| result.label_for(cluster) == Some(label))
                .count();
            assert_eq!(recount, result.correct, "{name}");
            let mut mapped_labels: Vec<usize> = result.mapping.iter().map(|&(_, l)| l).collect();
            mapped_labels.sort_unstable();
            mapped_labels.dedup();
            assert_eq!(
                mapped_labels.len(),
                result.mapping.len(),
                "{name}: labels reused"
            );
        }
    }

    #[test]
    fn permuted_labels_score_one() {
        let labels = [0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 3];
        let renamed = [7, 7, 2, 2, 2, 0, 0, 5, 5, 5, 5];
        let result = accuracy(&renamed, &labels);
        assert_eq!(result.accuracy, 1.0);
        assert_eq!(result.correct, labels.len());
        assert_eq!(result.mapping, vec![(0, 2), (2, 1), (5, 3), (7, 0)]);
        assert!((nmi(&renamed, &labels) - 1.0).abs() < TOLERANCE);
        assert!((ari(&renamed, &labels) - 1.0).abs() < TOLERANCE);
    }

    #[test]
    fn hand_worked_example() {
        // Contingency (clusters x labels) [[2, 0], [1, 2]], n = 5.
        let predictions = [0, 0, 1, 1, 1];
        let labels = [0, 0, 0, 1, 1];
        let result = accuracy(&predictions, &labels);
        assert_eq!(result.correct, 4);
        assert_eq!(result.mapping, vec![(0, 0), (1, 1)]);
        assert!((result.accuracy - 0.8).abs() < TOLERANCE);

        // Pairs together in both: C(2,2) + C(2,2) = 2. Row and column pair sums are both
        // C(2,2) + C(3,2) = 4, out of C(5,2) = 10 pairs, so the expected index is 1.6 and the
        // maximum 4, giving ARI = (2 - 1.6) / (4 - 1.6) = 1/6.
        assert!((ari(&predictions, &labels) - 1.0 / 6.0).abs() < TOLERANCE);

        // MI = 0.4 ln(5/3) + 0.2 ln(5/9) + 0.4 ln(5/3); both entropies are H(0.4, 0.6).
        let mutual_information = 0.8 * (5.0f64 / 3.0).ln() + 0.2 * (5.0f64 / 9.0).ln();
        let entropy = -(0.4 * 0.4f64.ln() + 0.6 * 0.6f64.ln());
        assert!((nmi(&predictions, &labels) - mutual_information / entropy).abs() < TOLERANCE);
    }

    #[test]
    fn empty_input_conventions() {
        let result = accuracy(&[], &[]);
        assert_eq!(result.accuracy, 0.0);
        assert!(result.mapping.is_empty());
        // scikit-learn 1.9.1 returns 1.0 for both on empty input.
        assert_eq!(nmi(&[], &[]), 1.0);
        assert_eq!(ari(&[], &[]), 1.0);
    }

    #[test]
    fn single_cluster_conventions() {
        let labels = [0, 1, 2, 0, 1, 2];
        let one_cluster = [4; 6];
        assert_eq!(nmi(&one_cluster, &labels), 0.0);
        assert_eq!(ari(&one_cluster, &labels), 0.0);
        let result = accuracy(&one_cluster, &labels);
        assert!((result.accuracy - 2.0 / 6.0).abs() < TOLERANCE);
        assert_eq!(result.mapping.len(), 1);
        assert_eq!(nmi(&[1, 1], &[0, 0]), 1.0);
        assert_eq!(ari(&[1, 1], &[0, 0]), 1.0);
    }

    #[test]
    fn unused_cluster_ids_are_ignored() {
        // k = 3 clusters, but cluster 1 received no point.
        let predictions = [0, 0, 2, 2];
        let labels = [1, 1, 0, 0];
        let result = accuracy(&predictions, &labels);
        assert_eq!(result.accuracy, 1.0);
        assert_eq!(result.label_for(1), None);
        assert_eq!(result.mapping, vec![(0, 1), (2, 0)]);
    }

    #[test]
    fn ari_large_input_does_not_overflow() {
        let n = 300_000;
        let labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
        let independent: Vec<usize> = (0..n).map(|i| i % 2).collect();
        let value = ari(&independent, &labels);
        assert!(value.abs() < 1e-5, "ARI of independent partitions: {value}");
        assert!((ari(&labels, &labels) - 1.0).abs() < TOLERANCE);
        assert!((nmi(&labels, &labels) - 1.0).abs() < TOLERANCE);
    }

    #[test]
    #[should_panic(expected = "same length")]
    fn length_mismatch_panics() {
        nmi(&[0, 1], &[0]);
    }

    /// Small deterministic generator so the tests need no extra crate.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self, bound: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % bound
        }
    }

    fn brute_force_min_cost(cost: &[i64], rows: usize, cols: usize) -> i64 {
        // Try every injective map from the smaller side into the larger one.
        fn search(cost: &[i64], rows: usize, cols: usize, row: usize, used: &mut [bool]) -> i64 {
            if row == rows {
                return 0;
            }
            let mut best = if rows > cols {
                // With more rows than columns a row may stay unassigned, but only rows - cols may.
                let assigned = used.iter().filter(|&&u| u).count();
                if rows - row > cols - assigned {
                    search(cost, rows, cols, row + 1, used)
                } else {
                    i64::MAX
                }
            } else {
                i64::MAX
            };
            for col in 0..cols {
                if !used[col] {
                    used[col] = true;
                    let rest = search(cost, rows, cols, row + 1, used);
                    used[col] = false;
                    if rest != i64::MAX {
                        best = best.min(cost[row * cols + col] + rest);
                    }
                }
            }
            best
        }
        search(cost, rows, cols, 0, &mut vec![false; cols])
    }

    #[test]
    fn assignment_matches_brute_force() {
        let mut rng = Lcg(7);
        for _ in 0..300 {
            let rows = 1 + rng.next(5) as usize;
            let cols = 1 + rng.next(5) as usize;
            let cost: Vec<i64> = (0..rows * cols).map(|_| rng.next(21) as i64 - 10).collect();
            let assignment = min_cost_assignment(&cost, rows, cols);
            assert_eq!(assignment.len(), rows);
            let mut used = vec![false; cols];
            let mut total = 0;
            for (row, column) in assignment.iter().enumerate() {
                if let Some(column) = *column {
                    assert!(!used[column], "column {column} assigned twice in {cost:?}");
                    used[column] = true;
                    total += cost[row * cols + column];
                }
            }
            let assigned = assignment.iter().flatten().count();
            assert_eq!(assigned, rows.min(cols), "{rows}x{cols} {cost:?}");
            assert_eq!(
                total,
                brute_force_min_cost(&cost, rows, cols),
                "{rows}x{cols} {cost:?}"
            );
        }
    }

    #[test]
    fn assignment_of_empty_matrix() {
        assert!(min_cost_assignment(&[], 0, 0).is_empty());
        assert_eq!(min_cost_assignment(&[], 2, 0), vec![None, None]);
    }

    /// Vertices of a regular simplex for k = 3: unit vectors in R^2 at 90, 210 and 330 degrees.
    fn simplex3() -> Vec<f32> {
        let half_sqrt3 = 3.0f32.sqrt() / 2.0;
        vec![0.0, 1.0, -half_sqrt3, -0.5, half_sqrt3, -0.5]
    }

    #[test]
    fn cosine_distances_to_simplex_codes() {
        let codes = simplex3();
        // A point along code 0 is at distance 0 from it and 1 - (-1/2) = 1.5 from the others. The
        // opposite point is at distance 2 from code 0 and 1 - 1/2 = 0.5 from the others.
        let scores = [0.0, 2.5, 0.0, -1.0];
        let distances = cosine_distances(&scores, &codes, 3);
        assert_eq!(distances.len(), 6);
        let expected = [0.0, 1.5, 1.5, 2.0, 0.5, 0.5];
        for (index, (&got, &want)) in distances.iter().zip(&expected).enumerate() {
            assert!(
                (got - want).abs() < 1e-6,
                "distance {index}: {got} != {want}"
            );
        }
    }

    #[test]
    fn zero_score_has_distance_one() {
        let distances = cosine_distances(&[0.0, 0.0], &simplex3(), 3);
        assert_eq!(distances, vec![1.0, 1.0, 1.0]);
    }

    #[test]
    fn membership_sums_to_one() {
        let mut rng = Lcg(11);
        for _ in 0..100 {
            let k = 2 + rng.next(9) as usize;
            let distances: Vec<f32> = (0..k).map(|_| rng.next(2000) as f32 / 1000.0).collect();
            let values = membership(&distances);
            let sum: f32 = values.iter().sum();
            assert!((sum - 1.0).abs() < 1e-5, "{distances:?} -> {values:?}");
            assert!(values.iter().all(|&value| (0.0..=1.0).contains(&value)));
        }
    }

    #[test]
    fn membership_matches_inverse_distance_form() {
        let mut rng = Lcg(13);
        for _ in 0..100 {
            let k = 2 + rng.next(9) as usize;
            let distances: Vec<f32> = (0..k)
                .map(|_| (1 + rng.next(2000)) as f32 / 1000.0)
                .collect();
            let inverse_sum: f64 = distances.iter().map(|&d| 1.0 / f64::from(d)).sum();
            for (c, &value) in membership(&distances).iter().enumerate() {
                let expected = (1.0 / f64::from(distances[c])) / inverse_sum;
                assert!(
                    (f64::from(value) - expected).abs() < 1e-6,
                    "{distances:?}, cluster {c}"
                );
            }
        }
    }

    #[test]
    fn membership_with_zero_distance() {
        assert_eq!(membership(&[0.5, 0.0, 1.2]), vec![0.0, 1.0, 0.0]);
        assert_eq!(membership(&[0.0, 0.0, 1.0]), vec![0.5, 0.5, 0.0]);
        // A slightly negative distance from rounding counts as zero.
        assert_eq!(membership(&[0.7, -1e-7]), vec![0.0, 1.0]);
    }

    #[test]
    fn membership_of_equal_distances_is_uniform() {
        for value in membership(&[0.8; 4]) {
            assert!((value - 0.25).abs() < 1e-7);
        }
    }

    #[test]
    fn batch_memberships_and_assignments() {
        let distances = [0.2, 0.6, 1.0, 0.0, 0.5, 0.5];
        let values = memberships(&distances, 3);
        assert_eq!(values.len(), 6);
        assert_eq!(&values[3..], &[1.0, 0.0, 0.0]);
        // Inverse distances 5, 5/3 and 1 normalised by their sum 23/3.
        assert!((values[0] - 15.0 / 23.0).abs() < 1e-6);
        assert_eq!(hard_assignments(&distances, 3), vec![0, 0]);
        assert_eq!(hard_assignments(&[0.5, 0.2, 0.2], 3), vec![1]);
    }

    #[test]
    fn argmin_skips_nan() {
        assert_eq!(argmin(&[f32::NAN, 0.3, 0.1]), 2);
        assert_eq!(argmin(&[0.3, f32::NAN, 0.1]), 2);
        assert_eq!(argmin(&[f32::NAN, f32::NAN]), 0);
    }

    #[test]
    fn ams_worked_example() {
        // Cluster 0 contains points 0 and 1 with memberships 0.9 and 0.6, mean 0.75. Cluster 1
        // contains point 2 with membership 0.8. AMS = (0.75 + 0.8) / 2 = 0.775.
        let memberships = [0.9, 0.1, 0.6, 0.4, 0.2, 0.8];
        let value = average_membership_strength(&memberships, &[0, 0, 1], 2);
        assert!((value - 0.775).abs() < 1e-6, "{value}");
    }

    #[test]
    fn ams_empty_cluster_counts_zero() {
        // Only cluster 0 is used, mean membership 0.6, and clusters 1 and 2 contribute 0.
        let memberships = [0.7, 0.2, 0.1, 0.5, 0.3, 0.2];
        let value = average_membership_strength(&memberships, &[0, 0], 3);
        assert!((value - 0.2).abs() < 1e-6, "{value}");
        assert_eq!(average_membership_strength(&[], &[], 3), 0.0);
    }

    #[test]
    fn ams_of_simplex_points_is_one() {
        let codes = simplex3();
        let scores = [0.0, 1.0, -0.866, -0.5, 0.866, -0.5];
        let distances = cosine_distances(&scores, &codes, 3);
        let assignments = hard_assignments(&distances, 3);
        assert_eq!(assignments, vec![0, 1, 2]);
        let value = average_membership_strength(&memberships(&distances, 3), &assignments, 3);
        assert!((value - 1.0).abs() < 1e-3, "{value}");
    }

    #[test]
    fn balance_of_cluster_sizes() {
        assert!((balance(&[0, 0, 1, 1, 1, 2], 3) - 1.0 / 3.0).abs() < TOLERANCE);
        assert_eq!(balance(&[0, 1, 2, 2, 1, 0], 3), 1.0);
        assert_eq!(balance(&[0, 0, 2], 3), 0.0);
        assert_eq!(balance(&[], 3), 0.0);
        assert_eq!(cluster_sizes(&[0, 0, 2], 3), vec![2, 0, 1]);
    }

    #[test]
    #[should_panic(expected = "not below k")]
    fn balance_rejects_out_of_range_cluster() {
        balance(&[0, 3], 3);
    }
}
