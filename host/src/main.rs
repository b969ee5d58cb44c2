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
    /// Write encoder.onnx, decoder.onnx and the fixed-point model.gksc of a run.
    Export(commands::export::ExportArgs),
    /// Compare an export with the Burn model on the test split (tract and the int8 engine).
    Validate(commands::validate::ValidateArgs),
    /// Assign the images of an IDX file to clusters with the fixed-point engine.
    Assign(commands::assign::AssignArgs),
    /// Measure tract's images/s on encoder.onnx.
    BenchOnnx(commands::bench_onnx::BenchOnnxArgs),
    /// Draw the firmware's 128x64 result screen for one image to a PNG file.
    Render(commands::render::RenderArgs),
    /// Draw images decoded along the cluster directions or the other latent dims.
    Traverse(commands::traverse::TraverseArgs),
    /// Plot the test images in the first two latent dims, by cluster and by class.
    Plot(commands::plot::PlotArgs),
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_secs()
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => commands::train::run(args),
        Command::Export(args) => commands::export::run(args),
        Command::Validate(args) => commands::validate::run(args),
        Command::Assign(args) => commands::assign::run(args),
        Command::BenchOnnx(args) => commands::bench_onnx::run(args),
        Command::Render(args) => commands::render::run(args),
        Command::Traverse(args) => commands::traverse::run(args),
        Command::Plot(args) => commands::plot::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
