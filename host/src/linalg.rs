//! Small dense linear algebra in `f64` for matrices of the latent size.

/// Eigenvalues and eigenvectors of a symmetric `n x n` matrix (row-major), by cyclic Jacobi
/// rotations.
///
/// Returns the eigenvalues in descending order and the matching eigenvectors as the columns
/// of an `n x n` row-major matrix.
///
/// # Panics
/// Panics when `matrix.len() != n * n`.
pub fn symmetric_eigen(matrix: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(matrix.len(), n * n, "expected a {n} x {n} matrix");
    let mut a = matrix.to_vec();
    let mut vectors = vec![0.0; n * n];
    for i in 0..n {
        vectors[i * n + i] = 1.0;
    }

    for _sweep in 0..100 {
        let off_diagonal: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum();
        let scale: f64 = a.iter().map(|v| v * v).sum();
        if off_diagonal <= 1e-30 * scale.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                // Rotation angle that zeroes a[p][q] (Golub and Van Loan, section 8.5).
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let akp = a[k * n + p];
                    let akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let apk = a[p * n + k];
                    let aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let vkp = vectors[k * n + p];
                    let vkq = vectors[k * n + q];
                    vectors[k * n + p] = c * vkp - s * vkq;
                    vectors[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }

    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&x, &y| a[y * n + y].total_cmp(&a[x * n + x]));
    let values = order.iter().map(|&i| a[i * n + i]).collect();
    let mut sorted = vec![0.0; n * n];
    for (column, &source) in order.iter().enumerate() {
        for row in 0..n {
            sorted[row * n + column] = vectors[row * n + source];
        }
    }
    (values, sorted)
}

/// Orthogonal `s x s` matrix `V` (row-major) whose first `k - 1` columns map the centred
/// centroids onto the directions of the cluster codes.
///
/// `centroids` is `[k, s]` and `codes` is `[k, k - 1]`, both row-major. The first `k - 1`
/// columns solve the orthogonal Procrustes problem `min ||X W - r S||_F` over `W` with
/// orthonormal columns, where `X` contains the centroids minus their mean, `S` the codes and `r`
/// the mean centroid norm; the other columns complete an orthonormal basis. Returns `None`
/// when the centroids do not span `k - 1` dimensions.
pub fn procrustes_rotation(
    centroids: &[f64],
    codes: &[f64],
    k: usize,
    s: usize,
) -> Option<Vec<f64>> {
    let dims = k - 1;
    assert_eq!(centroids.len(), k * s, "expected {k} centroids of size {s}");
    assert_eq!(codes.len(), k * dims, "expected {k} codes of size {dims}");
    assert!(dims <= s, "k - 1 = {dims} exceeds the latent size {s}");

    let mut centred = centroids.to_vec();
    for j in 0..s {
        let mean = (0..k).map(|c| centroids[c * s + j]).sum::<f64>() / k as f64;
        for c in 0..k {
            centred[c * s + j] -= mean;
        }
    }
    let radius = (0..k)
        .map(|c| {
            (0..s)
                .map(|j| centred[c * s + j].powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .sum::<f64>()
        / k as f64;

    // M = X^T (r S), [s, k - 1]
    let mut m = vec![0.0f64; s * dims];
    for i in 0..s {
        for j in 0..dims {
            m[i * dims + j] = (0..k)
                .map(|c| centred[c * s + i] * radius * codes[c * dims + j])
                .sum();
        }
    }

    // Thin SVD M = A Sigma B^T from the eigenvectors B of M^T M.
    let mut gram = vec![0.0f64; dims * dims];
    for a in 0..dims {
        for b in 0..dims {
            gram[a * dims + b] = (0..s).map(|i| m[i * dims + a] * m[i * dims + b]).sum();
        }
    }
    let (values, b) = symmetric_eigen(&gram, dims);
    let largest = values.first().copied().unwrap_or(0.0);
    if largest.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
        || values.iter().any(|v| *v <= largest * 1e-12)
    {
        return None;
    }
    let mut a = vec![0.0f64; s * dims];
    for column in 0..dims {
        let sigma = values[column].sqrt();
        for i in 0..s {
            a[i * dims + column] = (0..dims)
                .map(|j| m[i * dims + j] * b[j * dims + column])
                .sum::<f64>()
                / sigma;
        }
    }

    // W = A B^T, then complete the basis with Gram-Schmidt on the standard basis vectors.
    let mut columns: Vec<Vec<f64>> = (0..dims)
        .map(|j| {
            (0..s)
                .map(|i| (0..dims).map(|c| a[i * dims + c] * b[j * dims + c]).sum())
                .collect()
        })
        .collect();
    for unit in 0..s {
        if columns.len() == s {
            break;
        }
        let mut candidate: Vec<f64> = (0..s).map(|i| if i == unit { 1.0 } else { 0.0 }).collect();
        for column in &columns {
            let dot: f64 = candidate.iter().zip(column).map(|(x, y)| x * y).sum();
            candidate
                .iter_mut()
                .zip(column)
                .for_each(|(x, y)| *x -= dot * y);
        }
        let norm = candidate.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 1e-6 {
            candidate.iter_mut().for_each(|x| *x /= norm);
            columns.push(candidate);
        }
    }
    Some(
        (0..s)
            .flat_map(|i| columns.iter().map(move |column| column[i]))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigen_of_known_matrix() {
        // [[2, 1], [1, 2]] has eigenvalues 3 and 1 with vectors (1, 1) and (1, -1) / sqrt 2.
        let (values, vectors) = symmetric_eigen(&[2.0, 1.0, 1.0, 2.0], 2);
        assert!((values[0] - 3.0).abs() < 1e-12);
        assert!((values[1] - 1.0).abs() < 1e-12);
        let half = 0.5f64.sqrt();
        assert!((vectors[0].abs() - half).abs() < 1e-12);
        assert!((vectors[2].abs() - half).abs() < 1e-12);
        assert!(
            (vectors[0] * vectors[2]) > 0.0,
            "first eigenvector is along (1, 1)"
        );
    }

    #[test]
    fn eigen_reconstructs_matrix() {
        let n = 6;
        let mut matrix = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                let value = ((i * 7 + j * 3) % 11) as f64 - 5.0;
                matrix[i * n + j] = value;
                matrix[j * n + i] = value;
            }
        }
        let (values, vectors) = symmetric_eigen(&matrix, n);
        assert!(
            values.windows(2).all(|pair| pair[0] >= pair[1]),
            "values are sorted: {values:?}"
        );
        for i in 0..n {
            for j in 0..n {
                let rebuilt: f64 = (0..n)
                    .map(|k| vectors[i * n + k] * values[k] * vectors[j * n + k])
                    .sum();
                assert!(
                    (rebuilt - matrix[i * n + j]).abs() < 1e-9,
                    "entry ({i}, {j})"
                );
            }
        }
    }

    #[test]
    fn procrustes_maps_centroids_to_codes() {
        // Three centroids in R^4 at the vertices of a triangle in a tilted plane.
        let half_sqrt3 = 3.0f64.sqrt() / 2.0;
        let codes = [half_sqrt3, 0.5, -half_sqrt3, 0.5, 0.0, -1.0];
        let (k, s) = (3, 4);
        // Plane spanned by (0, 0, 1, 0) and (0, 0.6, 0, 0.8), shifted by (1, 1, 1, 1).
        let u = [0.0, 0.0, 1.0, 0.0];
        let w = [0.0, 0.6, 0.0, 0.8];
        let mut centroids = vec![0.0; k * s];
        for c in 0..k {
            for i in 0..s {
                centroids[c * s + i] = 1.0 + 2.0 * (codes[c * 2 + 1] * u[i] - codes[c * 2] * w[i]);
            }
        }
        let v = procrustes_rotation(&centroids, &codes, k, s).expect("centroids span 2 dims");
        for i in 0..s {
            for j in 0..s {
                let dot: f64 = (0..s).map(|r| v[r * s + i] * v[r * s + j]).sum();
                let expected = if i == j { 1.0 } else { 0.0 };
                assert!(
                    (dot - expected).abs() < 1e-9,
                    "V^T V entry ({i}, {j}) is {dot}"
                );
            }
        }
        for c in 0..k {
            let projected: Vec<f64> = (0..2)
                .map(|j| {
                    (0..s)
                        .map(|i| (centroids[c * s + i] - 1.0) * v[i * s + j])
                        .sum()
                })
                .collect();
            let norm = projected.iter().map(|x| x * x).sum::<f64>().sqrt();
            let cosine = (projected[0] * codes[c * 2] + projected[1] * codes[c * 2 + 1]) / norm;
            assert!(
                (cosine - 1.0).abs() < 1e-9,
                "centroid {c} has cosine {cosine} to its code"
            );
        }
    }

    #[test]
    fn procrustes_rejects_collapsed_centroids() {
        let codes = [1.0, -1.0];
        assert_eq!(
            procrustes_rotation(&[2.0, 2.0, 2.0, 2.0], &codes, 2, 2),
            None
        );
    }
}
