//! Command-line interface of the GenKSC trainer.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use host::config::{Backend, TrainConfig};
use host::data::Preset;
use host::train::{self, RunOptions};

/// Generative kernel spectral clustering: train, inspect and export interpretable clusters.
#[derive(Parser, Debug)]
#[command(name = "host", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a model on MNIST012 or FashionMNIST and write a run folder.
    Train(TrainArgs),
}

#[derive(Args, Debug)]
struct TrainArgs {
    /// Data set and published settings: mnist012 or fashion-mnist.
    #[arg(long, default_value = "mnist012")]
    preset: Preset,
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
    /// Seed of the weight initialisation and the shuffling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Folder with mnist/ and fashion-mnist/, as written by scripts/fetch-data.sh.
    #[arg(long, default_value = "data")]
    data_dir: PathBuf,
    /// Run folder (default: runs/<preset>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in the --out folder from its last checkpoint.
    #[arg(long)]
    resume: bool,
    /// Compute backend.
    #[arg(long, value_enum, default_value = "flex")]
    backend: Backend,
    /// Adam learning rate of the encoder and decoder (default: the preset's).
    #[arg(long)]
    learning_rate: Option<f64>,
    /// Cayley ADAM learning rate of the projection U (default: the preset's).
    #[arg(long)]
    u_learning_rate: Option<f64>,
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
    /// Train on the first N training images only.
    #[arg(long, value_name = "N")]
    train_limit: Option<usize>,
    /// Evaluate on the first N test images only.
    #[arg(long, value_name = "N")]
    test_limit: Option<usize>,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
}

impl TrainArgs {
    fn config(&self) -> TrainConfig {
        let mut config = TrainConfig::preset(self.preset, self.data_dir.clone());
        config.seed = self.seed;
        config.backend = self.backend;
        config.train_limit = self.train_limit;
        config.test_limit = self.test_limit;
        config.kmeans_init = !self.no_kmeans_init;
        let overrides = [
            (self.epochs, &mut config.epochs),
            (self.warmup_epochs, &mut config.warmup_epochs),
            (self.batch_size, &mut config.batch_size),
        ];
        for (value, field) in overrides {
            if let Some(value) = value {
                *field = value;
            }
        }
        let rates = [
            (self.learning_rate, &mut config.learning_rate),
            (self.u_learning_rate, &mut config.cayley.learning_rate),
            (self.eta_var, &mut config.weights.variance),
            (self.eta_reg, &mut config.weights.regularization),
            (self.eta_rec, &mut config.weights.reconstruction),
            (self.eta_cl, &mut config.weights.cluster),
        ];
        for (value, field) in rates {
            if let Some(value) = value {
                *field = value;
            }
        }
        config
    }
}

fn train(args: TrainArgs) -> Result<()> {
    let config = args.config();
    let out_dir = args.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(args.preset.name()));
    let options = RunOptions { out_dir: out_dir.clone(), resume: args.resume, progress: !args.quiet };
    let summary = train::run(config, &options)?;
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

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_secs()
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
