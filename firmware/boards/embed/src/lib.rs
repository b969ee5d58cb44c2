//! Build-script helper shared by the board programs: it embeds a model file and the first test
//! images of an IDX file.
//!
//! [`embed_test_data`] reads three environment variables, each with a default that works
//! after the repository README's training run and `host export`:
//!
//! | variable        | value                                         | default                        |
//! | --------------- | --------------------------------------------- | ------------------------------ |
//! | `GENKSC_MODEL`  | a `.gksc` model file                          | [`DEFAULT_MODEL`]              |
//! | `GENKSC_IMAGES` | an uncompressed IDX image file (`idx3-ubyte`) | [`DEFAULT_IMAGES`]             |
//! | `GENKSC_COUNT`  | how many images to take from its start        | [`DEFAULT_COUNT`]              |
//!
//! Relative paths are relative to the board's folder, where Cargo runs build scripts. Into
//! `OUT_DIR` it writes `model.gksc` (the model file unchanged), `images.bin` (the pixels of the
//! images, one after the other, without the IDX header) and `test_data.rs`, which defines
//! `IMAGE_COUNT`, `IMAGE_LEN` and `SCRATCH_LEN` (the engine's scratch length for the model) for
//! `include!`.
//!
//! A model file that fails validation is still embedded, with a `cargo:warning`, so that the
//! firmware's own rejection of it can be tested. Its `SCRATCH_LEN` is 0.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use firmware::Engine;
use model_format::Model;

/// Model file used when `GENKSC_MODEL` is not set, relative to a board's folder.
pub const DEFAULT_MODEL: &str = "../../../runs/mnist012/export/model.gksc";
/// IDX image file used when `GENKSC_IMAGES` is not set, relative to a board's folder.
pub const DEFAULT_IMAGES: &str = "../../../data/mnist/t10k-images-idx3-ubyte";
/// Number of images embedded when `GENKSC_COUNT` is not set.
pub const DEFAULT_COUNT: usize = 20;

/// Magic number of an IDX file of unsigned bytes with three dimensions: images, rows, columns.
const IDX3_UBYTE_MAGIC: [u8; 4] = [0, 0, 0x08, 0x03];
const IDX3_HEADER_LEN: usize = 16;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Images read from the start of an IDX file.
struct Images {
    count: usize,
    image_len: usize,
    pixels: Vec<u8>,
}

/// Embeds the model and test images named by the environment into `OUT_DIR`, and prints the
/// `cargo:` lines that rerun the build script when a file or variable changes.
///
/// # Errors
///
/// Returns a message that names the file or variable at fault. That happens when a file cannot
/// be read or written, when the IDX file is invalid, when `GENKSC_COUNT` is not a positive
/// number within the file's image count, or when a valid model reads images of another size.
pub fn embed_test_data() -> Result<(), String> {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    let model_path = path_from_env("GENKSC_MODEL", DEFAULT_MODEL);
    let images_path = path_from_env("GENKSC_IMAGES", DEFAULT_IMAGES);
    let count = count_from_env()?;

    let model_bytes = fs::read(&model_path).map_err(|error| {
        format!(
            "cannot read the model file {} ({error}). Export one with `cargo run --release -p \
             host -- export --run runs/mnist012` from the repository root, or set GENKSC_MODEL \
             to a .gksc file.",
            model_path.display()
        )
    })?;
    let images = read_images(&images_path, count)?;
    let scratch_len = scratch_len(&model_path, &model_bytes, &images)?;

    write(&out_dir.join("model.gksc"), &model_bytes)?;
    write(&out_dir.join("images.bin"), &images.pixels)?;
    let mut constants = String::new();
    writeln!(
        constants,
        "/// Number of embedded images, the first ones of `{}`.\n\
         pub const IMAGE_COUNT: usize = {};\n\
         /// Pixels per image.\n\
         pub const IMAGE_LEN: usize = {};\n\
         /// Scratch elements the engine needs for the embedded model, 0 when it is invalid.\n\
         pub const SCRATCH_LEN: usize = {};\n\
         /// Bytes with the 4-byte alignment of the model file's sections.\n\
         #[repr(C, align(4))]\n\
         pub struct Aligned<T: ?Sized>(pub T);\n\
         /// The embedded model file.\n\
         pub static MODEL_FILE: &Aligned<[u8]> =\n    \
         &Aligned(*include_bytes!(concat!(env!(\"OUT_DIR\"), \"/model.gksc\")));\n\
         /// The embedded images, `IMAGE_COUNT` rows of `IMAGE_LEN` pixels.\n\
         pub static IMAGES: &[u8; IMAGE_COUNT * IMAGE_LEN] =\n    \
         include_bytes!(concat!(env!(\"OUT_DIR\"), \"/images.bin\"));",
        images_path.display().to_string().escape_default(),
        images.count,
        images.image_len,
        scratch_len
    )
    .map_err(|error| error.to_string())?;
    write(&out_dir.join("test_data.rs"), constants.as_bytes())
}

/// Returns the path in variable `name`, or `default`, and prints the `cargo:` lines that rerun
/// the build script when the variable or the file changes.
fn path_from_env(name: &str, default: &str) -> PathBuf {
    println!("cargo:rerun-if-env-changed={name}");
    let path = std::env::var_os(name).map_or_else(|| PathBuf::from(default), PathBuf::from);
    println!("cargo:rerun-if-changed={}", path.display());
    path
}

fn count_from_env() -> Result<usize, String> {
    println!("cargo:rerun-if-env-changed=GENKSC_COUNT");
    let Ok(text) = std::env::var("GENKSC_COUNT") else {
        return Ok(DEFAULT_COUNT);
    };
    match text.trim().parse::<usize>() {
        Ok(count) if count > 0 => Ok(count),
        _ => Err(format!(
            "GENKSC_COUNT is {text:?}; expected a positive number of images"
        )),
    }
}

/// Reads the first `count` images of an uncompressed IDX file of unsigned bytes.
fn read_images(path: &Path, count: usize) -> Result<Images, String> {
    let bytes = fs::read(path).map_err(|error| {
        format!(
            "cannot read the image file {} ({error}). Run scripts/fetch-data.sh from the \
             repository root, or set GENKSC_IMAGES to an IDX image file.",
            path.display()
        )
    })?;
    if bytes.starts_with(&GZIP_MAGIC) {
        return Err(format!(
            "{} is gzip-compressed; decompress it with `gunzip -k` and point GENKSC_IMAGES at \
             the result",
            path.display()
        ));
    }
    let header = bytes.get(..IDX3_HEADER_LEN).ok_or_else(|| {
        format!(
            "{} has {} bytes, shorter than an IDX header",
            path.display(),
            bytes.len()
        )
    })?;
    if header[..4] != IDX3_UBYTE_MAGIC {
        return Err(format!(
            "{} is not an IDX image file: its magic number is {:02x?}, expected {:02x?}",
            path.display(),
            &header[..4],
            IDX3_UBYTE_MAGIC
        ));
    }
    let dimension = |index: usize| {
        let start = 4 + 4 * index;
        let field: [u8; 4] = header[start..start + 4].try_into().unwrap_or_default();
        u32::from_be_bytes(field) as usize
    };
    let (available, rows, columns) = (dimension(0), dimension(1), dimension(2));
    if count > available {
        return Err(format!(
            "GENKSC_COUNT is {count}, but {} holds {available} images",
            path.display()
        ));
    }

    let image_len = rows * columns;
    let end = IDX3_HEADER_LEN + count * image_len;
    let pixels = bytes.get(IDX3_HEADER_LEN..end).ok_or_else(|| {
        format!(
            "{} is truncated: {count} images of {rows}x{columns} pixels need {end} bytes, the \
             file has {}",
            path.display(),
            bytes.len()
        )
    })?;
    Ok(Images {
        count,
        image_len,
        pixels: pixels.to_vec(),
    })
}

/// Returns the engine's scratch length for a valid model, after checking that it reads images
/// of the IDX file's size, or 0 with a warning for an invalid one.
fn scratch_len(path: &Path, bytes: &[u8], images: &Images) -> Result<usize, String> {
    let model = match Model::parse(bytes) {
        Ok(model) => model,
        Err(error) => {
            println!(
                "cargo:warning=the model file {} is invalid ({error}); the firmware will \
                 report that at start",
                path.display()
            );
            return Ok(0);
        }
    };
    if model.input_len() != images.image_len {
        let shape = model.input_shape();
        return Err(format!(
            "the model {} reads {}x{}x{} = {} pixels per image, but the IDX images have {}",
            path.display(),
            shape.channels,
            shape.height,
            shape.width,
            model.input_len(),
            images.image_len
        ));
    }
    Ok(Engine::new(model).scratch_len())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    fs::write(path, bytes).map_err(|error| format!("cannot write {}: {error}", path.display()))
}
