//! Command-line interface of the GenKSC trainer.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    Train(commands::train::TrainArgs),
    /// Draw the firmware's 128x64 result screen for one image to a PNG file.
    Render(commands::render::RenderArgs),
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_secs()
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => commands::train::run(args),
        Command::Render(args) => commands::render::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
