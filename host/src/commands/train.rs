//! `host train`: train a model and write a run folder.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use host::config::{Backend, ConfigOverrides, TrainConfig};
use host::data::Preset;
use host::train::{self, RunOptions, Start};

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Data set and published settings: mnist012 (default) or fashion-mnist.
    #[arg(long)]
    preset: Option<Preset>,
    /// Number of epochs (default: the preset's).
    #[arg(long)]
    epochs: Option<usize>,
    /// Epochs without the cluster loss at the start (default: the preset's).
    #[arg(long)]
    warmup_epochs: Option<usize>,
    /// Start the cluster loss from the current axes instead of k-means cluster directions.
    #[arg(long)]
    no_kmeans_init: bool,
    /// Images per batch (default: the preset's).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Seed of the weight initialisation and the shuffling (default 0).
    #[arg(long)]
    seed: Option<u64>,
    /// Folder with mnist/ and fashion-mnist/, as written by scripts/fetch-data.sh
    /// (default: data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Run folder (default: runs/<preset>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in the --out folder from its last checkpoint.
    #[arg(long)]
    resume: bool,
    /// Compute backend (default: flex, the CPU).
    #[arg(long, value_enum)]
    backend: Option<Backend>,
    /// Adam learning rate of the encoder and decoder (default: the preset's).
    #[arg(long)]
    learning_rate: Option<f64>,
    /// Cayley ADAM learning rate of the projection U (default: the preset's).
    #[arg(long)]
    u_learning_rate: Option<f64>,
    /// Final fraction of both learning rates under cosine decay; 1 keeps them constant.
    #[arg(long, value_name = "FACTOR")]
    final_lr_factor: Option<f64>,
    /// Weight of the weighted variance term.
    #[arg(long)]
    eta_var: Option<f64>,
    /// Weight of the feature regularisation ||phi||^2.
    #[arg(long)]
    eta_reg: Option<f64>,
    /// Weight of the reconstruction error.
    #[arg(long)]
    eta_rec: Option<f64>,
    /// Weight of the cosine cluster loss.
    #[arg(long)]
    eta_cl: Option<f64>,
    /// Weight of the balance term ||mean of e'/|e'| ||^2, against clusters that absorb others
    /// (default 0, as in the paper).
    #[arg(long)]
    eta_bal: Option<f64>,
    /// Clamp degrees below this fraction of their mean absolute value (default: the preset's).
    #[arg(long, value_name = "FRACTION")]
    degree_floor: Option<f64>,
    /// Train on the first N training images only.
    #[arg(long, value_name = "N")]
    train_limit: Option<usize>,
    /// Evaluate on the first N test images only.
    #[arg(long, value_name = "N")]
    test_limit: Option<usize>,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
    /// Replace the run that --out already contains instead of stopping.
    #[arg(long, conflicts_with = "resume")]
    overwrite: bool,
}

impl TrainArgs {
    fn overrides(&self) -> ConfigOverrides {
        ConfigOverrides {
            epochs: self.epochs,
            warmup_epochs: self.warmup_epochs,
            batch_size: self.batch_size,
            seed: self.seed,
            learning_rate: self.learning_rate,
            u_learning_rate: self.u_learning_rate,
            final_learning_rate_factor: self.final_lr_factor,
            eta_var: self.eta_var,
            eta_reg: self.eta_reg,
            eta_rec: self.eta_rec,
            eta_cl: self.eta_cl,
            eta_bal: self.eta_bal,
            degree_floor: self.degree_floor,
            kmeans_init: self.no_kmeans_init.then_some(false),
            train_limit: self.train_limit,
            test_limit: self.test_limit,
            backend: self.backend,
            data_dir: self.data_dir.clone(),
        }
    }
}

pub fn run(args: TrainArgs) -> Result<()> {
    let preset = args.preset.unwrap_or(Preset::Mnist012);
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(preset.name()));
    let start = if args.resume {
        if let Some(preset) = args.preset {
            // The stored configuration names the preset; a different one is a mistake.
            let stored = host::checkpoint::stored_preset(&out_dir.join(train::CHECKPOINT_FILE));
            if let Ok(stored) = stored {
                anyhow::ensure!(
                    stored == preset,
                    "--preset {preset} differs from the preset {stored} of the run in {}",
                    out_dir.display()
                );
            }
        }
        Start::Resume(args.overrides())
    } else {
        let mut config = TrainConfig::preset(preset, PathBuf::from("data"));
        args.overrides().apply(&mut config);
        Start::Fresh(config)
    };
    let options = RunOptions {
        out_dir: out_dir.clone(),
        progress: !args.quiet,
        overwrite: args.overwrite,
    };
    let summary = train::run(start, &options)?;
    let test = &summary.test;
    println!(
        "{} after {} epochs: test ACC {:.4}, NMI {:.4}, ARI {:.4}, AMS {:.4}, balance {:.3}; \
         {:.0} training images/s; results in {}",
        summary.preset,
        summary.epochs,
        test.acc,
        test.nmi,
        test.ari,
        test.ams,
        test.balance,
        summary.train_images_per_second,
        out_dir.display()
    );
    Ok(())
}
