//! `host assign`: assign images to clusters with the fixed-point engine.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use firmware::Engine;
use host::data;
use host::export::ModelFile;

#[derive(Args, Debug)]
pub struct AssignArgs {
    /// Fixed-point model file written by `host export`.
    #[arg(long)]
    model: PathBuf,
    /// IDX image file, raw or gzipped.
    #[arg(long)]
    images: PathBuf,
    /// Assign the first N images only (default: all).
    #[arg(long, value_name = "N")]
    count: Option<usize>,
}

pub fn run(args: AssignArgs) -> Result<()> {
    let model_file = ModelFile::read(&args.model)?;
    let engine = Engine::new(model_file.model());
    let images = data::read_images(&args.images)?;

    let shape = engine.model().input_shape();
    anyhow::ensure!(
        shape.channels == 1 && images.rows == shape.height && images.cols == shape.width,
        "{} holds {}x{} images, but {} expects 1x{}x{}",
        args.images.display(),
        images.rows,
        images.cols,
        args.model.display(),
        shape.height,
        shape.width
    );

    let mut scratch = vec![0i8; engine.scratch_len()];
    let count = args.count.unwrap_or(images.count).min(images.count);
    let mut out = io::BufWriter::new(io::stdout().lock());
    for index in 0..count {
        let assignment = engine
            .assign(images.image(index), &mut scratch)
            .map_err(|error| anyhow::anyhow!("{error}"))
            .with_context(|| format!("cannot assign image {index}"))?;
        writeln!(out, "{}", assignment.line(index))?;
    }
    out.flush()?;
    Ok(())
}
