//! k-means on score vectors, used to start the cluster loss from the data's own groups.

use crate::rng::SplitMix64;

/// Result of [`kmeans`].
#[derive(Clone, Debug, PartialEq)]
pub struct KMeans {
    /// Centroids, `[k, dim]` row-major.
    pub centroids: Vec<f64>,
    pub assignments: Vec<usize>,
    /// Sum of squared distances of the points to their centroids.
    pub inertia: f64,
}

/// Lloyd's k-means with k-means++ seeding, best of `restarts` runs by inertia.
///
/// # Panics
/// Panics when there are fewer points than clusters or `points.len()` is not a multiple of
/// `dim`.
pub fn kmeans(
    points: &[f32],
    dim: usize,
    k: usize,
    restarts: usize,
    iterations: usize,
    rng: &mut SplitMix64,
) -> KMeans {
    assert!(
        dim > 0 && points.len().is_multiple_of(dim),
        "points must have {dim} values each"
    );
    let n = points.len() / dim;
    assert!(n >= k, "k-means needs at least k = {k} points, got {n}");
    let mut best: Option<KMeans> = None;
    for _ in 0..restarts.max(1) {
        let mut centroids = seed_centroids(points, dim, k, rng);
        let mut assignments = vec![usize::MAX; n];
        for _ in 0..iterations {
            let changed = assign(points, dim, &centroids, &mut assignments);
            update_centroids(points, dim, k, &assignments, &mut centroids);
            if !changed {
                break;
            }
        }
        assign(points, dim, &centroids, &mut assignments);
        let inertia = points
            .chunks(dim)
            .zip(&assignments)
            .map(|(point, &cluster)| squared_distance(point, &centroids[cluster * dim..][..dim]))
            .sum();
        if best.as_ref().is_none_or(|best| inertia < best.inertia) {
            best = Some(KMeans {
                centroids,
                assignments,
                inertia,
            });
        }
    }
    best.expect("at least one restart ran")
}

fn squared_distance(point: &[f32], centroid: &[f64]) -> f64 {
    point
        .iter()
        .zip(centroid)
        .map(|(p, c)| (*p as f64 - c).powi(2))
        .sum()
}

/// k-means++: each next centroid is a point drawn with probability proportional to its squared
/// distance to the nearest centroid so far (Arthur and Vassilvitskii, SODA 2007).
fn seed_centroids(points: &[f32], dim: usize, k: usize, rng: &mut SplitMix64) -> Vec<f64> {
    let n = points.len() / dim;
    let mut centroids = Vec::with_capacity(k * dim);
    let first = rng.below(n);
    centroids.extend(points[first * dim..][..dim].iter().map(|v| *v as f64));
    let mut nearest: Vec<f64> = points
        .chunks(dim)
        .map(|point| squared_distance(point, &centroids[..dim]))
        .collect();
    for c in 1..k {
        let total: f64 = nearest.iter().sum();
        let chosen = if total > 0.0 {
            let target = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
            let mut running = 0.0;
            nearest
                .iter()
                .position(|d| {
                    running += d;
                    running > target
                })
                .unwrap_or(n - 1)
        } else {
            rng.below(n)
        };
        centroids.extend(points[chosen * dim..][..dim].iter().map(|v| *v as f64));
        let added = &centroids[c * dim..][..dim];
        for (distance, point) in nearest.iter_mut().zip(points.chunks(dim)) {
            *distance = distance.min(squared_distance(point, added));
        }
    }
    centroids
}

/// Assigns each point to its nearest centroid; returns whether any assignment changed.
fn assign(points: &[f32], dim: usize, centroids: &[f64], assignments: &mut [usize]) -> bool {
    let mut changed = false;
    for (point, assignment) in points.chunks(dim).zip(assignments.iter_mut()) {
        let nearest = centroids
            .chunks(dim)
            .map(|centroid| squared_distance(point, centroid))
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(index, _)| index)
            .expect("k > 0");
        if *assignment != nearest {
            *assignment = nearest;
            changed = true;
        }
    }
    changed
}

/// Moves each centroid to the mean of its points; an empty cluster keeps its centroid.
fn update_centroids(
    points: &[f32],
    dim: usize,
    k: usize,
    assignments: &[usize],
    centroids: &mut [f64],
) {
    let mut sums = vec![0.0f64; k * dim];
    let mut counts = vec![0usize; k];
    for (point, &cluster) in points.chunks(dim).zip(assignments) {
        counts[cluster] += 1;
        for (sum, value) in sums[cluster * dim..][..dim].iter_mut().zip(point) {
            *sum += *value as f64;
        }
    }
    for cluster in 0..k {
        if counts[cluster] > 0 {
            for (centroid, sum) in centroids[cluster * dim..][..dim]
                .iter_mut()
                .zip(&sums[cluster * dim..][..dim])
            {
                *centroid = sum / counts[cluster] as f64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_three_blobs() {
        let mut rng = SplitMix64::new(5);
        let centers = [[0.0f32, 0.0], [10.0, 0.0], [0.0, 10.0]];
        let mut points = Vec::new();
        let mut truth = Vec::new();
        for i in 0..300 {
            let center = centers[i % 3];
            let jitter = |rng: &mut SplitMix64| (rng.below(1000) as f32 / 1000.0) - 0.5;
            points.push(center[0] + jitter(&mut rng));
            points.push(center[1] + jitter(&mut rng));
            truth.push(i % 3);
        }
        let result = kmeans(&points, 2, 3, 4, 50, &mut SplitMix64::new(1));
        for i in 0..300 {
            for j in 0..300 {
                assert_eq!(
                    truth[i] == truth[j],
                    result.assignments[i] == result.assignments[j],
                    "points {i} and {j}"
                );
            }
        }
        assert!(result.inertia < 300.0 * 0.5, "inertia {}", result.inertia);
    }

    #[test]
    fn single_cluster_centroid_is_mean() {
        let points = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let result = kmeans(&points, 2, 1, 1, 10, &mut SplitMix64::new(0));
        assert_eq!(result.centroids, vec![3.0, 4.0]);
        assert_eq!(result.assignments, vec![0, 0, 0]);
    }
}
