#!/usr/bin/env python3
"""Check the encoder.onnx and decoder.onnx of a GenKSC export with onnx and onnxruntime.

For each file: onnx.checker.check_model(full_check=True), then an onnxruntime session on a
batch of 1 and a batch of 5 images. The encoder's membership and cluster outputs are
recomputed in numpy from its scores and must match within 1e-5. The recomputation uses the
cosine distances to the simplex codes stored in the model and the soft kernel spectral
clustering memberships. Decoded images must have shape [N, 1, 28, 28] and values in [0, 1].

Usage: pip install onnx onnxruntime numpy
       python3 scripts/check_onnx.py runs/mnist012/export
Exits with status 1 and a message naming the file when a check fails.
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from onnx import numpy_helper

TOLERANCE = 1e-5


def fail(path, message):
    print(f"error: {path}: {message}", file=sys.stderr)
    sys.exit(1)


def check_file(path):
    model = onnx.load(str(path))
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as error:
        fail(path, f"onnx checker rejected the model: {error}")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return model, session


def cluster_codes(model):
    """Simplex codes [k, k - 1] from the `cluster_codes` initializer, stored as [k - 1, k]."""
    for tensor in model.graph.initializer:
        if tensor.name == "cluster_codes":
            return numpy_helper.to_array(tensor).T
    return None


def check_encoder(path, rng):
    model, session = check_file(path)
    codes = cluster_codes(model)
    if codes is None:
        fail(path, "no cluster_codes initializer")
    k = codes.shape[0]
    names = json.loads({p.key: p.value for p in model.metadata_props}["cluster_names"])
    if len(names) != k:
        fail(path, f"{len(names)} cluster names for {k} clusters")

    for batch in (1, 5):
        images = rng.random((batch, 1, 28, 28), dtype=np.float32)
        scores, membership, cluster = session.run(["scores", "membership", "cluster"],
                                                  {"image": images})
        if membership.shape != (batch, k) or cluster.shape != (batch,):
            fail(path, f"output shapes {membership.shape} and {cluster.shape} for batch {batch}")
        if cluster.dtype != np.int64:
            fail(path, f"cluster has dtype {cluster.dtype}, expected int64")

        cluster_scores = scores[:, : k - 1].astype(np.float64)
        norms = np.maximum(np.linalg.norm(cluster_scores, axis=1, keepdims=True), 1e-12)
        distances = np.maximum(1.0 - cluster_scores @ codes.T / norms, 0.0)
        others = np.stack([np.prod(np.delete(distances, c, axis=1), axis=1) for c in range(k)],
                          axis=1)
        expected = others / others.sum(axis=1, keepdims=True)
        error = np.abs(membership - expected).max()
        if error > TOLERANCE:
            fail(path, f"membership differs from numpy by {error:.2e}")
        if not np.array_equal(cluster, distances.argmin(axis=1)):
            fail(path, f"cluster {cluster} differs from numpy {distances.argmin(axis=1)}")
    print(f"{path}: ok ({k} clusters, latent size {scores.shape[1]})")
    return scores.shape[1]


def check_decoder(path, latent_size, rng):
    _, session = check_file(path)
    for batch in (1, 5):
        scores = rng.standard_normal((batch, latent_size), dtype=np.float32)
        (image,) = session.run(["image"], {"scores": scores})
        if image.shape != (batch, 1, 28, 28):
            fail(path, f"image shape {image.shape} for batch {batch}")
        if not (np.all(image >= 0.0) and np.all(image <= 1.0)):
            fail(path, "image values outside [0, 1]")
    print(f"{path}: ok")


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    export_dir = Path(sys.argv[1])
    for name in ("encoder.onnx", "decoder.onnx"):
        if not (export_dir / name).is_file():
            fail(export_dir / name, "not found; run `cargo run --release -p host -- export`")
    rng = np.random.default_rng(0)
    latent_size = check_encoder(export_dir / "encoder.onnx", rng)
    check_decoder(export_dir / "decoder.onnx", latent_size, rng)
    print(f"onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}")


if __name__ == "__main__":
    main()
