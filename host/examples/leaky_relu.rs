//! Times one LeakyReLU forward and backward pass under autodiff on the `flex` backend: Burn's
//! `leaky_relu` against [`host::model::leaky`], which the networks use.
//!
//! ```sh
//! cargo run --release -p host --example leaky_relu
//! ```
//!
//! The input has the shape of the first MNIST012 convolution's output at batch 128. Each
//! timed pass also draws the random input and sums the output, and the `identity` row times
//! that work alone, so the activation's own cost is the difference to `identity`.

use std::time::{Duration, Instant};

use burn::prelude::{Device, Tensor};
use burn::tensor::Distribution;
use burn::tensor::activation::leaky_relu;
use host::model::{LEAKY_SLOPE, leaky};

const SHAPE: [usize; 4] = [128, 16, 14, 14];
const PASSES: u32 = 50;
const ROUNDS: usize = 5;

/// An activation under test.
type Activation = fn(Tensor<4>) -> Tensor<4>;

fn time_passes(device: &Device, activation: Activation) -> Duration {
    let started = Instant::now();
    for _ in 0..PASSES {
        let x = Tensor::<4>::random(SHAPE, Distribution::Normal(0.0, 1.0), device).require_grad();
        let gradients = activation(x.clone()).sum().backward();
        let gradient = x.grad(&gradients).expect("x requires a gradient");
        std::hint::black_box(gradient.sum().into_scalar::<f32>());
    }
    started.elapsed() / PASSES
}

fn main() {
    let device = Device::flex().autodiff();
    let variants: [(&str, Activation); 3] = [
        ("identity", |x| x),
        ("burn leaky_relu", |x| leaky_relu(x, LEAKY_SLOPE)),
        ("host::model::leaky", leaky),
    ];
    println!("input {SHAPE:?}, median of {ROUNDS} rounds of {PASSES} passes");
    // Rounds alternate between the variants, so that a change of machine load affects all.
    let mut times = vec![Vec::with_capacity(ROUNDS); variants.len()];
    for round in 0..=ROUNDS {
        for (index, (_, activation)) in variants.iter().enumerate() {
            let time = time_passes(&device, *activation);
            // Round 0 warms up the allocator and the thread pool.
            if round > 0 {
                times[index].push(time);
            }
        }
    }
    for ((name, _), mut rounds) in variants.iter().zip(times) {
        rounds.sort();
        let median = rounds[ROUNDS / 2];
        println!("{name:>20}: {:6.2} ms per pass", median.as_secs_f64() * 1e3);
    }
}
