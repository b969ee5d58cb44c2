//! `host plot`: the test images in the first two latent dims, as PNG and SVG.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use host::pictures;
use host::pictures::traversal;
use host::trained::TrainedModel;

#[derive(Args, Debug)]
pub struct PlotArgs {
    /// Run folder written by `host train`.
    #[arg(long)]
    run: PathBuf,
    /// Output file, PNG or SVG by its extension; repeat for both (default: RUN/latent.png and
    /// RUN/latent.svg).
    #[arg(long)]
    out: Vec<PathBuf>,
    /// Plot the first N test images only (default: the run's --test-limit, else all).
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Folder with the data sets (default: the one the run was trained on).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

/// Output format, chosen by the file extension.
enum Format {
    Png,
    Svg,
}

fn format_of(path: &Path) -> Result<Format> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("png") => Ok(Format::Png),
        Some("svg") => Ok(Format::Svg),
        _ => anyhow::bail!("--out {} must end in .png or .svg", path.display()),
    }
}

pub fn run(args: PlotArgs) -> Result<()> {
    let outputs = if args.out.is_empty() {
        vec![args.run.join("latent.png"), args.run.join("latent.svg")]
    } else {
        args.out.clone()
    };
    // Reject a bad extension before the slow part.
    let formats = outputs
        .iter()
        .map(|path| format_of(path))
        .collect::<Result<Vec<_>>>()?;

    let trained = TrainedModel::load(&args.run)?;
    let data_dir = args.data_dir.as_deref();
    let summary = traversal::load_or_summarize(&trained, &args.run, data_dir)?;
    let plot = pictures::test_plot(&trained, &summary, data_dir, args.limit)?;
    let scene = plot.scene();
    for (path, format) in outputs.iter().zip(formats) {
        match format {
            Format::Png => scene.to_canvas().save_png(path)?,
            Format::Svg => fs::write(path, scene.to_svg())
                .with_context(|| format!("cannot write {}", path.display()))?,
        }
        println!(
            "wrote {} ({} x {} pixels)",
            path.display(),
            scene.width,
            scene.height
        );
    }
    Ok(())
}
