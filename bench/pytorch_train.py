#!/usr/bin/env python3
"""Time GenKSC training steps with PyTorch on the CPU, to compare with the Burn trainer.

Each step repeats `Trainer::step` of host/src/train.rs as it runs after the warm-up epochs,
with the cluster term on. It runs the encoder, the clamped degrees and weighted mean, the
scores through the orthonormal projection U, the decoder and the four loss terms. It then
takes one Adam step on the encoder and decoder and one Cayley ADAM step on U. Like the Rust
step, it reads the five loss values and the clamped degree count back every step.

By default the images are uniform random values in [0, 1]. A step runs the same dense
operations on tensors of the same shapes whatever the pixel values, so its cost does not
depend on them. With --data-dir the steps use the preset's real training images instead.
Everything runs on the CPU; no tensor is ever moved to a GPU.
"""

import argparse
import ctypes
import gzip
import json
import math
import os
import statistics
import struct
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

# Timed steps are split into this many windows, and the report gives their median, min and max.
TIMING_WINDOWS = 5

# Negative slope of every LeakyReLU, as `LEAKY_SLOPE` in host/src/model.rs.
LEAKY_SLOPE = 0.2

# Degrees below this fraction of the batch's mean absolute degree are clamped to it.
DEGREE_FLOOR = 1e-3

# Offset that keeps the cosine distance finite when a score vector is zero.
NORM_EPSILON = 1e-8

# Random images are drawn from a fixed pool of this many batches.
RANDOM_POOL_BATCHES = 16

IMAGES_MAGIC = 0x0000_0803
LABELS_MAGIC = 0x0000_0801

# mallopt parameter numbers and the fixed thresholds, in bytes (glibc malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 << 20
TRIM_THRESHOLD_BYTES = 64 << 20


@dataclass(frozen=True)
class LossWeights:
    variance: float
    regularization: float
    reconstruction: float
    cluster: float


@dataclass(frozen=True)
class Preset:
    """Settings of one preset, copied from `TrainConfig::preset` in host/src/config.rs."""

    name: str
    architecture: str
    data_folder: str
    classes: tuple
    feature_size: int
    latent_size: int
    clusters: int
    learning_rate: float
    weights: LossWeights


PRESETS = {
    "mnist012": Preset(
        name="mnist012",
        architecture="small-cnn",
        data_folder="mnist",
        classes=(0, 1, 2),
        feature_size=64,
        latent_size=10,
        clusters=3,
        learning_rate=1e-3,
        weights=LossWeights(variance=1.0, regularization=1.0, reconstruction=1.0, cluster=1.0),
    ),
    "fashion-mnist": Preset(
        name="fashion-mnist",
        architecture="clustergan",
        data_folder="fashion-mnist",
        classes=tuple(range(10)),
        feature_size=128,
        latent_size=40,
        clusters=10,
        learning_rate=1e-3,
        weights=LossWeights(variance=1.0, regularization=1.0, reconstruction=0.001, cluster=0.008),
    ),
}


@dataclass(frozen=True)
class CayleyAdamConfig:
    """Defaults of `CayleyAdamConfig` in host/src/cayley.rs."""

    learning_rate: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.99
    epsilon: float = 1e-8
    q: float = 0.5
    iterations: int = 2
    reorthonormalize_every: int = 100


def build_encoder(architecture, feature_size):
    """Build the encoder phi: [n, 1, 28, 28] images to [n, feature_size] features."""
    if architecture == "small-cnn":
        return nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=4, stride=2, padding=1),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.Conv2d(16, 32, kernel_size=4, stride=2, padding=1),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.Conv2d(32, 64, kernel_size=3, stride=2, padding=1),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.Flatten(),  # [n, 64, 4, 4] -> [n, 1024]
            nn.Linear(1024, 64),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.Linear(64, feature_size),
        )
    return nn.Sequential(
        nn.Conv2d(1, 64, kernel_size=4, stride=2, padding=0),
        nn.LeakyReLU(LEAKY_SLOPE),
        nn.Conv2d(64, 128, kernel_size=4, stride=2, padding=0),
        nn.LeakyReLU(LEAKY_SLOPE),
        nn.Flatten(),  # [n, 128, 5, 5] -> [n, 3200]
        nn.Linear(3200, 1024),
        nn.LeakyReLU(LEAKY_SLOPE),
        nn.Linear(1024, feature_size),
    )


def build_decoder(architecture, feature_size):
    """Build the decoder psi: [n, feature_size] features to [n, 1, 28, 28] images in (0, 1)."""
    if architecture == "small-cnn":
        return nn.Sequential(
            nn.Linear(feature_size, 64),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.Linear(64, 1024),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.Unflatten(1, (64, 4, 4)),
            nn.ConvTranspose2d(64, 32, kernel_size=3, stride=2, padding=1),  # 4 -> 7
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.ConvTranspose2d(32, 16, kernel_size=4, stride=2, padding=1),  # 7 -> 14
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.ConvTranspose2d(16, 1, kernel_size=4, stride=2, padding=1),  # 14 -> 28
            nn.Sigmoid(),
        )
    return nn.Sequential(
        nn.Linear(feature_size, 1024),
        nn.BatchNorm1d(1024),
        nn.ReLU(),
        nn.Linear(1024, 128 * 7 * 7),
        nn.BatchNorm1d(128 * 7 * 7),
        nn.ReLU(),
        nn.Unflatten(1, (128, 7, 7)),
        nn.ConvTranspose2d(128, 64, kernel_size=4, stride=2, padding=1),  # 7 -> 14
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.ConvTranspose2d(64, 1, kernel_size=4, stride=2, padding=1),  # 14 -> 28
        nn.Sigmoid(),
    )


def simplex_codes(k):
    """Return the k vertices of a regular simplex centred at the origin, as [k, k - 1] unit rows.

    Vertex v is the standard basis vector e_v of R^k written in the Helmert basis of the
    hyperplane orthogonal to (1, ..., 1), the same construction as `simplex_codes` in ksc.rs.
    """
    if k < 2:
        raise ValueError(f"a simplex needs at least 2 vertices, got k = {k}")
    codes = torch.zeros(k, k - 1, dtype=torch.float64)
    for vertex in range(k):
        for j in range(k - 1):
            # Helmert basis vector j: ones in the first j + 1 entries, -(j + 1) at entry j + 1.
            count = j + 1
            norm = math.sqrt(count * (count + 1))
            if vertex <= j:
                codes[vertex, j] = 1.0 / norm
            elif vertex == j + 1:
                codes[vertex, j] = -count / norm
    codes /= codes.norm(dim=1, keepdim=True)
    return codes.float()


def orthonormalize(x):
    """Orthonormalize the columns of x in float64, with the result of Gram-Schmidt.

    The QR factorization gives the Gram-Schmidt basis once each column of Q is flipped so that
    the diagonal of R is positive.
    """
    q, r = torch.linalg.qr(x.double())
    signs = torch.sign(torch.diagonal(r))
    signs[signs == 0] = 1.0
    return (q * signs).to(x.dtype)


def orthonormality_error(x):
    """Return the largest absolute entry of X^T X - I."""
    gram = x.T @ x
    return (gram - torch.eye(x.shape[1], dtype=x.dtype)).abs().max().item()


class CayleyAdam:
    """Cayley ADAM on the Stiefel manifold, a port of `CayleyAdam::step` in host/src/cayley.rs.

    The algorithm is Algorithm 2 of Li, Li and Todorovic, "Efficient Riemannian optimization on
    the Stiefel manifold via the Cayley transform" (ICLR 2020).
    """

    def __init__(self, config, shape):
        self.config = config
        self.momentum = torch.zeros(shape)
        self.velocity = 0.0
        self.step_count = 0

    @torch.no_grad()
    def step(self, x, gradient):
        """Return the point reached from x along the Euclidean gradient of the loss."""
        config = self.config
        self.step_count += 1
        step = self.step_count

        gradient_norm = gradient.pow(2).sum().item()
        momentum = self.momentum * config.beta1 + gradient * (1.0 - config.beta1)
        self.velocity = config.beta2 * self.velocity + (1.0 - config.beta2) * gradient_norm
        velocity_hat = self.velocity / (1.0 - config.beta2**step)
        r = (1.0 - config.beta1**step) * math.sqrt(velocity_hat + config.epsilon)

        # W_hat = M X^T - 1/2 X (X^T M X^T) is [n, n], and W = (W_hat - W_hat^T) / r is
        # skew-symmetric.
        m_xt = momentum @ x.T
        w_hat = m_xt - 0.5 * (x @ (x.T @ m_xt))
        w = (w_hat - w_hat.T) / r

        # The momentum is moved to the tangent space at X.
        momentum = (w @ x) * r

        w_norm = w.pow(2).sum().item()
        alpha = min(config.learning_rate, 2.0 * config.q / (math.sqrt(w_norm) + config.epsilon))

        y = x - alpha * momentum
        for _ in range(config.iterations):
            y = x - (alpha / 2.0) * (w @ (x + y))
        self.momentum = momentum

        every = config.reorthonormalize_every
        if every > 0 and step % every == 0:
            y = orthonormalize(y)
        return y


def degrees(features):
    """Return the degrees D_i = phi_i . sum_j phi_j clamped from below, and the clamped count.

    The floor is DEGREE_FLOOR times the mean absolute degree, computed without gradient.
    """
    degree = features @ features.sum(dim=0)
    floor = DEGREE_FLOOR * degree.detach().abs().mean().item()
    floor = max(floor, torch.finfo(torch.float32).tiny)
    clamped = int((degree.detach() < floor).sum().item())
    return degree.clamp_min(floor), clamped


class GenKscStep:
    """Networks, projection U and optimizers of one run, as `Trainer` in host/src/train.rs."""

    def __init__(self, preset, cayley_config):
        self.preset = preset
        self.encoder = build_encoder(preset.architecture, preset.feature_size)
        self.decoder = build_decoder(preset.architecture, preset.feature_size)
        self.encoder.train()
        self.decoder.train()
        parameters = list(self.encoder.parameters()) + list(self.decoder.parameters())
        # NOTE: Burn 0.22's AdamConfig defaults to epsilon 1e-5 and PyTorch's to 1e-8. The value
        # changes the updates but not the cost of a step.
        self.optimizer = torch.optim.Adam(parameters, lr=preset.learning_rate)
        shape = (preset.feature_size, preset.latent_size)
        self.projection = orthonormalize(torch.randn(shape))
        self.cayley = CayleyAdam(cayley_config, shape)
        self.codes = simplex_codes(preset.clusters)

    def step(self, images):
        """Take one optimization step on [n, 1, 28, 28] images.

        Returns the loss values (total, variance, regularization, reconstruction, cluster) and
        the number of clamped degrees.
        """
        weights = self.preset.weights
        k = self.preset.clusters
        n = images.shape[0]

        features = self.encoder(images)
        degree, clamped = degrees(features)
        inverse = degree.reciprocal()
        # [n, d_f] weighted by [n, 1], summed over n -> [d_f]
        mean = (features * inverse.unsqueeze(1)).sum(dim=0) / inverse.sum()
        centered = features - mean

        projection = self.projection.detach().requires_grad_(True)
        scores = centered @ projection  # [n, s]
        reconstructed = self.decoder(scores @ projection.T)  # [n, d_f] -> [n, 1, 28, 28]

        variance = -0.5 * (scores.pow(2).sum(dim=1) / degree).mean()
        regularization = features.pow(2).sum(dim=1).mean()
        reconstruction = (images - reconstructed).pow(2).sum() / n

        cluster_scores = scores[:, : k - 1]
        norms = (cluster_scores.pow(2).sum(dim=1, keepdim=True) + NORM_EPSILON).sqrt()
        distances = 1.0 - (cluster_scores @ self.codes.T) / norms  # [n, k]
        cluster = distances.min(dim=1).values.mean()

        loss = (
            weights.variance * variance
            + weights.regularization * regularization
            + weights.reconstruction * reconstruction
            + weights.cluster * cluster
        )
        values = torch.stack([loss, variance, regularization, reconstruction, cluster]).tolist()
        bad = [value for value in values if not math.isfinite(value)]
        if bad:
            raise FloatingPointError(f"the loss became {bad[0]}. Change --seed and run again")

        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.projection = self.cayley.step(self.projection, projection.grad)
        return values, clamped


def read_idx(base_path, magic, dimension_count):
    """Read an IDX file as (dimensions, uint8 tensor).

    The raw file at base_path is preferred and base_path + ".gz" is accepted, as the Rust loader
    in host/src/data.rs does.
    """
    path = Path(base_path)
    gzip_path = path.with_name(path.name + ".gz")
    if path.exists():
        payload = path.read_bytes()
    elif gzip_path.exists():
        payload = gzip.decompress(gzip_path.read_bytes())
    else:
        raise FileNotFoundError(f"IDX file not found: {path} or {gzip_path}")

    header_size = 4 * (1 + dimension_count)
    if len(payload) < header_size:
        raise ValueError(f"{path}: {len(payload)} bytes is too short for an IDX header")
    found_magic, *dimensions = struct.unpack(f">{1 + dimension_count}I", payload[:header_size])
    if found_magic != magic:
        raise ValueError(
            f"{path}: invalid magic number {found_magic:#010x}, expected {magic:#010x}"
        )
    expected_size = header_size + math.prod(dimensions)
    if len(payload) != expected_size:
        raise ValueError(f"{path}: {len(payload)} bytes, expected {expected_size} for {dimensions}")
    values = torch.frombuffer(bytearray(payload[header_size:]), dtype=torch.uint8)
    return dimensions, values.reshape(dimensions)


def load_training_images(data_dir, preset):
    """Load the preset's training images as [n, 1, 28, 28] float32 values in [0, 1]."""
    folder = Path(data_dir) / preset.data_folder
    dimensions, images = read_idx(folder / "train-images-idx3-ubyte", IMAGES_MAGIC, 3)
    _, labels = read_idx(folder / "train-labels-idx1-ubyte", LABELS_MAGIC, 1)
    if dimensions[1:] != [28, 28]:
        raise ValueError(f"{folder}: images are {dimensions[1]}x{dimensions[2]}, expected 28x28")
    if labels.shape[0] != images.shape[0]:
        raise ValueError(f"{folder}: {images.shape[0]} images but {labels.shape[0]} labels")
    keep = torch.isin(labels, torch.tensor(preset.classes, dtype=torch.uint8))
    return (images[keep].float() / 255.0).unsqueeze(1)


def batches(pool, batch_size, generator):
    """Yield full batches of shuffled images from pool forever, reshuffling after each pass."""
    full = pool.shape[0] // batch_size
    while True:
        order = torch.randperm(pool.shape[0], generator=generator)
        for index in range(full):
            chunk = order[index * batch_size : (index + 1) * batch_size]
            yield pool.index_select(0, chunk)


def fix_malloc_thresholds():
    """Fix glibc's mmap threshold at 32 MiB and its trim threshold at 64 MiB.

    By default glibc serves each allocation above 128 KiB with a fresh mmap, and raises that
    threshold only after the process frees a larger mmap-ed block. Loading the data set frees
    such blocks and generating random images does not. Without fixed thresholds, the random
    run on mnist012 took 3 times as many page faults and about 40 % fewer images/s (2-core AMD
    EPYC, glibc 2.36, torch 2.15.0). Returns False where the C library has no mallopt.
    """
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    if mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) != 1:
        return False
    return mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1


def cpu_model():
    """Return the first "model name" of /proc/cpuinfo, or "unknown"."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def window_sizes(steps):
    """Split steps into TIMING_WINDOWS windows whose sizes differ by at most one."""
    base, extra = divmod(steps, TIMING_WINDOWS)
    return [base + (1 if index < extra else 0) for index in range(TIMING_WINDOWS)]


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Time GenKSC training steps with PyTorch on the CPU.",
    )

    parser.add_argument("--preset", choices=sorted(PRESETS), default="mnist012",
                        help="architecture and loss weights (default: mnist012)")
    parser.add_argument("--batch-size", type=int, default=128,
                        help="images per step (default: 128)")
    parser.add_argument("--threads", type=int, default=2,
                        help="intra-op and inter-op thread count (default: 2)")
    parser.add_argument("--warmup-steps", type=int, default=20,
                        help="untimed steps before the timing starts (default: 20)")
    parser.add_argument("--steps", type=int, default=200,
                        help=f"timed steps, split into {TIMING_WINDOWS} windows (default: 200)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the weights, the random images and the batch order "
                             "(default: 0)")
    parser.add_argument("--data-dir", type=Path,
                        help="folder with mnist/ and fashion-mnist/ IDX files; "
                             "without it the images are random values in [0, 1]")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of the text report")
    parser.add_argument("--keep-malloc-defaults", action="store_true",
                        help="leave glibc's dynamic mmap and trim thresholds as they are")

    args = parser.parse_args(argv)

    if args.batch_size < 2:
        parser.error(f"--batch-size is {args.batch_size}; the degrees need at least 2 images")
    if args.threads < 1:
        parser.error(f"--threads is {args.threads}; use at least 1")
    if args.warmup_steps < 0:
        parser.error(f"--warmup-steps is {args.warmup_steps}; use 0 or more")
    if args.steps < TIMING_WINDOWS:
        parser.error(f"--steps is {args.steps}; use at least {TIMING_WINDOWS}, one per window")
    return args


def main(argv=None):
    args = parse_args(argv)
    malloc_fixed = False if args.keep_malloc_defaults else fix_malloc_thresholds()
    # The inter-op pool must be sized before any parallel work starts.
    torch.set_num_interop_threads(args.threads)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    preset = PRESETS[args.preset]

    if args.data_dir is None:
        pool = torch.rand(RANDOM_POOL_BATCHES * args.batch_size, 1, 28, 28)
        source = "random images in [0, 1]"
    else:
        try:
            pool = load_training_images(args.data_dir, preset)
        except (OSError, ValueError) as error:
            raise SystemExit(
                f"error: cannot load the {preset.name} training images: {error}. "
                "Run scripts/fetch-data.sh, or pass the folder it fills with --data-dir"
            ) from error
        source = f"{pool.shape[0]} training images from {args.data_dir / preset.data_folder}"
        if pool.shape[0] < args.batch_size:
            raise SystemExit(
                f"error: {source} are fewer than --batch-size {args.batch_size}; "
                "lower --batch-size"
            )

    trainer = GenKscStep(preset, CayleyAdamConfig())
    generator = torch.Generator().manual_seed(args.seed)
    stream = batches(pool, args.batch_size, generator)

    clamped_total = 0
    for _ in range(args.warmup_steps):
        _, clamped = trainer.step(next(stream))
        clamped_total += clamped

    rates = []
    for size in window_sizes(args.steps):
        started = time.perf_counter()
        for _ in range(size):
            values, clamped = trainer.step(next(stream))
            clamped_total += clamped
        seconds = time.perf_counter() - started
        rates.append(size * args.batch_size / seconds)

    report = {
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset"),
        "malloc_thresholds_fixed": malloc_fixed,
        "cpu_model": cpu_model(),
        "preset": preset.name,
        "batch_size": args.batch_size,
        "input": source,
        "seed": args.seed,
        "warmup_steps": args.warmup_steps,
        "steps": args.steps,
        "windows_images_per_second": rates,
        "images_per_second_median": statistics.median(rates),
        "images_per_second_min": min(rates),
        "images_per_second_max": max(rates),
        "last_losses": dict(zip(["total", "variance", "regularization", "reconstruction",
                                 "cluster"], values)),
        "degrees_clamped": clamped_total,
        "orthonormality_error": orthonormality_error(trainer.projection),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return

    losses = report["last_losses"]
    print(f"torch {report['torch_version']}, {report['threads']} intra-op threads, "
          f"{report['interop_threads']} inter-op threads, "
          f"OMP_WAIT_POLICY {report['omp_wait_policy']}")
    print(f"CPU: {report['cpu_model']}")
    if malloc_fixed:
        print("glibc malloc: mmap threshold 32 MiB, trim threshold 64 MiB")
    else:
        print("glibc malloc: default dynamic thresholds")
    print(f"preset {preset.name}, batch {args.batch_size}, {source}, "
          f"{args.warmup_steps} warm-up steps, "
          f"{args.steps} timed steps in {TIMING_WINDOWS} windows")
    print(f"images/s: median {report['images_per_second_median']:.1f} "
          f"(min {report['images_per_second_min']:.1f}, max {report['images_per_second_max']:.1f})")
    print(f"last step: loss {losses['total']:.4f} (var {losses['variance']:.4f}, "
          f"reg {losses['regularization']:.4f}, rec {losses['reconstruction']:.3f}, "
          f"cl {losses['cluster']:.4f}); {clamped_total} degrees clamped; "
          f"U orthonormality error {report['orthonormality_error']:.2e}")


if __name__ == "__main__":
    main()
