#!/usr/bin/env python3
"""Print reference values of ACC, NMI and ARI as a Rust table for host/src/metrics.rs.

ACC uses scipy's linear_sum_assignment on the contingency table; NMI and ARI are
scikit-learn's normalized_mutual_info_score (arithmetic mean) and adjusted_rand_score.

Usage: pip install scikit-learn && python3 scripts/metrics_reference.py
Paste the printed table into REFERENCE_CASES in host/src/metrics.rs.
"""

import numpy as np
import scipy
import sklearn
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix


def clustering_accuracy(predictions, labels):
    # Rows are labels and columns are clusters. The maximum matching is the same either way.
    table = contingency_matrix(labels, predictions)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return table[rows, cols].sum() / len(labels)


def hand_written_cases():
    """(name, predictions, labels) chosen to cover renaming, imbalance and degenerate cases."""
    return [
        ("permuted perfect", [2, 2, 0, 0, 1, 1], [0, 0, 1, 1, 2, 2]),
        ("split one class", [0, 0, 1, 1, 2, 2], [0, 0, 0, 1, 1, 1]),
        ("independent", [0, 1, 0, 1], [0, 0, 1, 1]),
        ("one cluster, three labels", [0, 0, 0, 0, 0, 0], [0, 0, 1, 1, 2, 2]),
        ("both single", [3, 3, 3], [1, 1, 1]),
        ("singletons, one label", [0, 1, 2, 3], [0, 0, 0, 0]),
        ("sparse values", [10, 10, 7, 7, 7, 42], [1, 1, 5, 5, 9, 9]),
        ("more clusters", [0, 1, 2, 3, 4, 0, 1, 2, 3], [0, 0, 1, 1, 2, 2, 0, 1, 2]),
        ("fewer clusters", [0, 0, 0, 1, 1, 1, 1, 0], [0, 1, 2, 3, 0, 1, 2, 3]),
        ("worse than chance", [0, 1, 0, 1, 0, 1], [0, 0, 0, 1, 1, 1]),
    ]


def random_cases():
    """Noisy relabelled clusterings, written out in full so Rust needs no random generator."""
    rng = np.random.default_rng(20261204)
    cases = []
    for n, k, noise in [(40, 3, 0.2), (50, 3, 0.5), (60, 10, 0.3), (80, 10, 0.9)]:
        labels = rng.integers(0, k, size=n)
        permutation = rng.permutation(k)
        predictions = permutation[labels]
        noisy = rng.random(n) < noise
        predictions[noisy] = rng.integers(0, k, size=noisy.sum())
        cases.append((f"random n={n} k={k} noise={noise}", predictions.tolist(), labels.tolist()))
    return cases


def rust_slice(values):
    return "&[" + ", ".join(str(v) for v in values) + "]"


def main():
    print(
        f"// scikit-learn {sklearn.__version__}, scipy {scipy.__version__}, "
        f"numpy {np.__version__}: scripts/metrics_reference.py"
    )
    print("// (name, predictions, labels, ACC, NMI, ARI)")
    for name, predictions, labels in hand_written_cases() + random_cases():
        acc = clustering_accuracy(predictions, labels)
        nmi = normalized_mutual_info_score(labels, predictions, average_method="arithmetic")
        ari = adjusted_rand_score(labels, predictions)
        values = ", ".join(repr(float(v)) for v in (acc, nmi, ari))
        quoted_name = '"' + name + '"'
        print(f"({quoted_name}, {rust_slice(predictions)}, {rust_slice(labels)}, {values}),")

    empty = ([], [])
    print(f"// empty input: NMI {normalized_mutual_info_score(*empty)!r}, "
          f"ARI {adjusted_rand_score(*empty)!r}")


if __name__ == "__main__":
    main()
