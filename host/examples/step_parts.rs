//! Times the three parts of a training step of a preset's networks on the `flex` backend: the
//! forward pass, the backward pass and Burn's Adam update.
//!
//! ```sh
//! cargo run --release -p host --example step_parts -- mnist012
//! cargo run --release -p host --example step_parts -- fashion-mnist
//! ```
//!
//! The step is a batch of 128 random images through the encoder and the decoder with a squared
//! reconstruction error, without `U` and the clustering terms, which add little work. It
//! prints the mean of 10 steps after 2 warm-up steps.

use std::time::{Duration, Instant};

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::{Device, Tensor};
use burn::tensor::Distribution;
use host::model::{Architecture, AutoEncoder};

const BATCH: usize = 128;
const WARMUP_STEPS: u32 = 2;
const TIMED_STEPS: u32 = 10;

fn main() {
    let preset = std::env::args().nth(1).unwrap_or_else(|| "mnist012".into());
    let (architecture, feature_size) = match preset.as_str() {
        "mnist012" => (Architecture::SmallCnn, 64),
        "fashion-mnist" => (Architecture::ClusterGan, 128),
        other => {
            eprintln!("unknown preset {other:?}; use mnist012 or fashion-mnist");
            std::process::exit(2);
        }
    };
    let device = Device::flex().autodiff();
    let mut model = AutoEncoder::new(architecture, feature_size, &device);
    let mut optimizer = AdamConfig::new().init();

    let mut totals = [Duration::ZERO; 3];
    for step in 0..WARMUP_STEPS + TIMED_STEPS {
        let images =
            Tensor::<4>::random([BATCH, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
        let started = Instant::now();
        let reconstructed = model.decoder.forward(model.encoder.forward(images.clone()));
        let loss = reconstructed.sub(images).powi_scalar(2).sum();
        std::hint::black_box(loss.clone().into_scalar::<f32>());
        let forward_done = Instant::now();
        let gradients = GradientsParams::from_grads(loss.backward(), &model);
        let backward_done = Instant::now();
        model = optimizer.step(1e-3, model, gradients);
        let adam_done = Instant::now();

        if step >= WARMUP_STEPS {
            totals[0] += forward_done - started;
            totals[1] += backward_done - forward_done;
            totals[2] += adam_done - backward_done;
        }
    }
    let [forward, backward, adam] =
        totals.map(|total| total.as_secs_f64() * 1e3 / TIMED_STEPS as f64);
    let step = forward + backward + adam;
    println!(
        "{preset}, batch {BATCH}: {step:.1} ms per step = forward {forward:.1} + backward \
         {backward:.1} + Adam {adam:.1} ms ({:.0} % Adam)",
        100.0 * adam / step
    );
}
