//! `host bench-onnx`: measure tract's throughput on `encoder.onnx`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;
use host::tract_runner::{self, OnnxModel};

#[derive(Args, Debug)]
pub struct BenchOnnxArgs {
    /// The encoder.onnx written by `host export`.
    #[arg(long)]
    model: PathBuf,
    /// Images per run.
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// Measure for at least this many seconds, after one warm-up run.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Fix the batch dimension to --batch before tract optimises the model, instead of
    /// keeping it symbolic.
    #[arg(long)]
    fixed_batch: bool,
}

pub fn run(args: BenchOnnxArgs) -> Result<()> {
    anyhow::ensure!(args.batch > 0, "--batch must be at least 1");
    // Duration::from_secs_f64 panics on NaN, infinite and negative values.
    anyhow::ensure!(
        args.seconds.is_finite() && (0.0..=86_400.0).contains(&args.seconds),
        "--seconds is {}; give a number of seconds from 0 to 86400",
        args.seconds
    );
    let shape = [args.batch, 1, 28, 28];
    let fixed_shape = args.fixed_batch.then_some(&shape[..]);
    let model = OnnxModel::load_with_input_shape(&args.model, fixed_shape)?;
    // Pixel values do not change the work done; a fixed pattern keeps runs comparable.
    let images: Vec<f32> = (0..args.batch * 28 * 28)
        .map(|i| ((i * 37) % 256) as f32 / 255.0)
        .collect();
    tract_runner::encode(&model, &images, args.batch)?;

    let budget = Duration::from_secs_f64(args.seconds);
    let start = Instant::now();
    let mut runs = 0usize;
    while runs == 0 || start.elapsed() < budget {
        tract_runner::encode(&model, &images, args.batch)?;
        runs += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    let images_per_second = (runs * args.batch) as f64 / seconds;
    println!(
        "tract {}: {images_per_second:.0} images/s ({runs} runs of batch {} in {seconds:.2} s, \
         one thread)",
        args.model.display(),
        args.batch
    );
    Ok(())
}
