//! `host render`: draw the firmware's result screen for one image to a PNG file.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use firmware::render::{Framebuffer, SCREEN_HEIGHT, SCREEN_WIDTH, draw_result};
use firmware::{Engine, Model};
use host::data;

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// Fixed-point model file written by `host export`.
    #[arg(long)]
    model: PathBuf,
    /// IDX image file, raw or gzipped.
    #[arg(long)]
    images: PathBuf,
    /// Index of the image in the file, from 0.
    #[arg(long, default_value_t = 0)]
    index: usize,
    /// PNG file to write.
    #[arg(long)]
    out: PathBuf,
    /// Size of one screen pixel in PNG pixels (1 gives the display's 128x64).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=32))]
    scale: u32,
}

pub fn run(args: RenderArgs) -> Result<()> {
    let model_bytes = std::fs::read(&args.model)
        .with_context(|| format!("cannot read the model file {}", args.model.display()))?;
    let model = Model::parse(&model_bytes)
        .map_err(|error| anyhow::anyhow!("{error}"))
        .with_context(|| format!("invalid model file {}", args.model.display()))?;
    let images = data::read_images(&args.images)
        .with_context(|| format!("cannot read the images in {}", args.images.display()))?;
    anyhow::ensure!(
        args.index < images.count,
        "--index {} is out of range: {} holds {} images",
        args.index,
        args.images.display(),
        images.count
    );
    let image = images.image(args.index);
    anyhow::ensure!(
        image.len() == model.input_len(),
        "{} holds {}x{} images, but {} reads {} pixels per image",
        args.images.display(),
        images.rows,
        images.cols,
        args.model.display(),
        model.input_len()
    );

    let engine = Engine::new(model);
    let mut scratch = vec![0i8; engine.scratch_len()];
    let assignment = engine
        .assign(image, &mut scratch)
        .map_err(|error| anyhow::anyhow!("{error}"))
        .with_context(|| format!("cannot assign image {}", args.index))?;

    let mut screen = Framebuffer::new();
    // The framebuffer's error type is `Infallible`, so this pattern is irrefutable.
    let Ok(()) = draw_result(&mut screen, &model, image, &assignment);
    write_png(&screen, args.scale, &args.out)?;

    println!("{}", assignment.line(args.index));
    log::info!("wrote the result screen to {}", args.out.display());
    Ok(())
}

/// Writes `screen` as an 8-bit greyscale PNG, white where a pixel is on, each screen pixel
/// drawn as a `scale` x `scale` square.
fn write_png(screen: &Framebuffer, scale: u32, path: &Path) -> Result<()> {
    let (width, height) = (SCREEN_WIDTH * scale, SCREEN_HEIGHT * scale);
    let mut pixels = Vec::with_capacity((width * height) as usize);
    for y in 0..height {
        for x in 0..width {
            let on = screen.pixel(x / scale, y / scale);
            pixels.push(if on { 255 } else { 0 });
        }
    }

    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut encoder = png::Encoder::new(BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .with_context(|| format!("cannot write {}", path.display()))?;
    writer
        .write_image_data(&pixels)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writer
        .finish()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
