#!/usr/bin/env python3
"""Measure onnxruntime's images/s on a GenKSC encoder.onnx, to compare with tract.

The input is the same fixed pixel pattern as `host bench-onnx` ((i * 37) % 256 / 255 for
pixel i of the batch), one warm-up run, then runs until at least --seconds have passed.

Usage: pip install onnxruntime numpy
       python3 bench/onnxruntime_encoder.py runs/mnist012/export/encoder.onnx \
           --batch 256 --threads 1
"""

import argparse
import time

import numpy as np
import onnxruntime


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="path of encoder.onnx")
    parser.add_argument("--batch", type=int, default=256, help="images per run")
    parser.add_argument("--seconds", type=float, default=5.0, help="minimum measuring time")
    parser.add_argument("--threads", type=int, default=1,
                        help="intra-op threads (0: onnxruntime's default, one per core)")
    args = parser.parse_args()

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(args.model, options,
                                           providers=["CPUExecutionProvider"])
    pixels = (np.arange(args.batch * 28 * 28) * 37 % 256).astype(np.float32) / 255.0
    images = pixels.reshape(args.batch, 1, 28, 28)
    session.run(None, {"image": images})

    runs = 0
    start = time.perf_counter()
    while runs == 0 or time.perf_counter() - start < args.seconds:
        session.run(None, {"image": images})
        runs += 1
    seconds = time.perf_counter() - start
    threads = args.threads if args.threads > 0 else "default"
    print(f"onnxruntime {onnxruntime.__version__} {args.model}: "
          f"{runs * args.batch / seconds:.0f} images/s ({runs} runs of batch {args.batch} "
          f"in {seconds:.2f} s, {threads} intra-op threads)")


if __name__ == "__main__":
    main()
