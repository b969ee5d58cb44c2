//! Loading of MNIST and Fashion-MNIST from IDX files.
//!
//! IDX is the format of the original MNIST distribution: a big-endian header (magic number, then
//! one `u32` per dimension) followed by the raw `u8` values. Files may be stored raw or gzipped.
//! `scripts/fetch-data.sh` downloads both data sets into `data/mnist/` (raw) and
//! `data/fashion-mnist/` (gzipped).

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use flate2::read::MultiGzDecoder;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Magic number of an IDX file of unsigned bytes with three dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with one dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Largest accepted image side in pixels. Larger values come from corrupt headers.
pub const MAX_IMAGE_SIDE: u32 = 1024;
/// Largest accepted IDX payload in bytes (4 GiB), so that a corrupt header cannot make the reader
/// attempt an absurd allocation. MNIST's training images are 47 MB.
pub const MAX_PAYLOAD_BYTES: u64 = 1 << 32;

/// Number of classes in MNIST and Fashion-MNIST. Labels must be below this value.
pub const NUM_LABELS: u8 = 10;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const FETCH_HINT: &str = "run scripts/fetch-data.sh to download MNIST and Fashion-MNIST";

/// Errors from reading IDX files and loading data sets.
#[derive(Debug, Error)]
pub enum DataError {
    #[error("data file {} not found; {FETCH_HINT}", path.display())]
    MissingFile { path: PathBuf },

    #[error(
        "{}: invalid IDX magic number 0x{found:08x}, expected 0x{expected:08x}",
        path.display()
    )]
    WrongMagic {
        path: PathBuf,
        found: u32,
        expected: u32,
    },

    /// Byte counts are of the uncompressed IDX data, also for gzipped files.
    #[error(
        "{} is truncated: the IDX header requires {expected} bytes but the file contains {actual}",
        path.display()
    )]
    Truncated {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },

    /// Byte counts are of the uncompressed IDX data, also for gzipped files.
    #[error(
        "{} contains {actual} bytes but its IDX header describes {expected}",
        path.display()
    )]
    TrailingData {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },

    #[error(
        "{}: implausible IDX dimensions {dimensions:?}; image sides must be in \
         1..={MAX_IMAGE_SIDE} and the data at most {MAX_PAYLOAD_BYTES} bytes",
        path.display()
    )]
    InvalidDimensions { path: PathBuf, dimensions: Vec<u32> },

    #[error(
        "{} contains {images} images but {} contains {labels} labels",
        images_path.display(),
        labels_path.display()
    )]
    CountMismatch {
        images_path: PathBuf,
        labels_path: PathBuf,
        images: usize,
        labels: usize,
    },

    #[error(
        "{}: label {label} at index {index} is not a class label (expected 0..{NUM_LABELS})",
        path.display()
    )]
    InvalidLabel {
        path: PathBuf,
        index: usize,
        label: u8,
    },

    #[error("failed to read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Images read from an IDX file, stored row-major as `[count, rows, cols]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images {
    pub pixels: Vec<u8>,
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
}

impl Images {
    /// Returns the pixels of image `index` (`rows * cols` values).
    pub fn image(&self, index: usize) -> &[u8] {
        let size = self.rows * self.cols;
        &self.pixels[index * size..(index + 1) * size]
    }
}

/// Reads an IDX image file (magic 0x00000803), raw or gzipped.
pub fn read_images(path: impl AsRef<Path>) -> Result<Images, DataError> {
    let (dimensions, pixels) = read_idx(path.as_ref(), IMAGES_MAGIC, 3)?;
    Ok(Images {
        pixels,
        count: dimensions[0] as usize,
        rows: dimensions[1] as usize,
        cols: dimensions[2] as usize,
    })
}

/// Reads an IDX label file (magic 0x00000801), raw or gzipped.
pub fn read_labels(path: impl AsRef<Path>) -> Result<Vec<u8>, DataError> {
    let (_, labels) = read_idx(path.as_ref(), LABELS_MAGIC, 1)?;
    Ok(labels)
}

/// Reads an IDX file with `dimension_count` dimensions and returns the dimensions and the data.
///
/// A file is decompressed when its name ends in `.gz` or it starts with the gzip magic bytes.
/// The header is validated before the data is read, so a corrupt header fails without a large
/// allocation. The file must contain exactly the number of bytes that the header describes.
fn read_idx(
    path: &Path,
    expected_magic: u32,
    dimension_count: usize,
) -> Result<(Vec<u32>, Vec<u8>), DataError> {
    let io_error = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => DataError::MissingFile {
            path: path.to_path_buf(),
        },
        _ => io_error(source),
    })?;
    let file_len = file.metadata().map_err(io_error)?.len();

    let mut buffered = BufReader::new(file);
    let starts_with_gzip_magic = buffered
        .fill_buf()
        .map_err(io_error)?
        .starts_with(&GZIP_MAGIC);
    let is_gzip = starts_with_gzip_magic || path.extension().is_some_and(|ext| ext == "gz");
    let mut reader: Box<dyn Read> = if is_gzip {
        Box::new(MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };

    let header_len = 4 + 4 * dimension_count;
    let mut header = vec![0u8; header_len];
    let header_read = read_up_to(&mut reader, &mut header).map_err(io_error)?;
    if header_read >= 4 {
        let found = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        if found != expected_magic {
            return Err(DataError::WrongMagic {
                path: path.to_path_buf(),
                found,
                expected: expected_magic,
            });
        }
    }
    if header_read < header_len {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: header_len as u64,
            actual: header_read as u64,
        });
    }

    let dimensions: Vec<u32> = header[4..]
        .chunks_exact(4)
        .map(|bytes| u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
        .collect();
    let payload_len =
        checked_payload_len(&dimensions).ok_or_else(|| DataError::InvalidDimensions {
            path: path.to_path_buf(),
            dimensions: dimensions.clone(),
        })?;
    let expected_len = header_len as u64 + payload_len;

    // A raw file's size is known up front, so a wrong size is reported before any allocation.
    if !is_gzip && file_len != expected_len {
        return Err(size_error(path, expected_len, file_len));
    }

    // For gzip the uncompressed size is unknown until the stream ends, so the buffer grows with
    // the data that actually arrives instead of trusting the header.
    let mut payload = Vec::new();
    if !is_gzip {
        payload.reserve_exact(payload_len as usize);
    }
    match reader.by_ref().take(payload_len).read_to_end(&mut payload) {
        Ok(_) => {}
        // A gzip stream that ends early reports UnexpectedEof after keeping the decoded bytes.
        Err(source) if source.kind() == io::ErrorKind::UnexpectedEof => {}
        Err(source) => return Err(io_error(source)),
    }
    let actual_payload_len = payload.len() as u64;
    if actual_payload_len < payload_len {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: expected_len,
            actual: header_len as u64 + actual_payload_len,
        });
    }

    // Reading to the end also makes the gzip decoder check the stream's CRC.
    let trailing = io::copy(&mut reader, &mut io::sink()).map_err(io_error)?;
    if trailing > 0 {
        return Err(DataError::TrailingData {
            path: path.to_path_buf(),
            expected: expected_len,
            actual: expected_len + trailing,
        });
    }
    Ok((dimensions, payload))
}

/// Returns the payload size in bytes for IDX dimensions `[count, side...]`, or `None` when an
/// image side is zero or above `MAX_IMAGE_SIDE` or the size exceeds `MAX_PAYLOAD_BYTES`.
fn checked_payload_len(dimensions: &[u32]) -> Option<u64> {
    let sides = &dimensions[1..];
    if sides.iter().any(|&side| side == 0 || side > MAX_IMAGE_SIDE) {
        return None;
    }
    let len = dimensions.iter().try_fold(1u64, |product, &dimension| {
        product.checked_mul(u64::from(dimension))
    })?;
    let fits_in_memory = usize::try_from(len).is_ok();
    (len <= MAX_PAYLOAD_BYTES && fits_in_memory).then_some(len)
}

fn size_error(path: &Path, expected: u64, actual: u64) -> DataError {
    let path = path.to_path_buf();
    if actual < expected {
        DataError::Truncated {
            path,
            expected,
            actual,
        }
    } else {
        DataError::TrailingData {
            path,
            expected,
            actual,
        }
    }
}

/// Fills `buffer` from `reader` and returns the number of bytes read, which is smaller than the
/// buffer only at the end of the stream.
fn read_up_to(reader: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// Data set configuration: which files to read and which classes to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Preset {
    /// MNIST digits 0, 1 and 2.
    #[serde(rename = "mnist012")]
    Mnist012,
    /// All ten Fashion-MNIST classes.
    #[serde(rename = "fashion-mnist")]
    FashionMnist,
}

impl Preset {
    pub const ALL: [Preset; 2] = [Preset::Mnist012, Preset::FashionMnist];

    /// Returns the name used on the command line and in configuration files.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Mnist012 => "mnist012",
            Preset::FashionMnist => "fashion-mnist",
        }
    }

    /// Returns the subdirectory of the data directory that contains the IDX files.
    pub fn dir_name(self) -> &'static str {
        match self {
            Preset::Mnist012 => "mnist",
            Preset::FashionMnist => "fashion-mnist",
        }
    }

    /// Returns the labels kept by this preset, in ascending order.
    pub fn classes(self) -> &'static [u8] {
        match self {
            Preset::Mnist012 => &[0, 1, 2],
            Preset::FashionMnist => &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        }
    }

    /// Returns the name of each class, in the order of `classes()`.
    pub fn cluster_names(self) -> &'static [&'static str] {
        match self {
            Preset::Mnist012 => &["zero", "one", "two"],
            Preset::FashionMnist => &[
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ],
        }
    }

    /// Returns the number of clusters, which equals the number of kept classes.
    pub fn num_clusters(self) -> usize {
        self.classes().len()
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// Error returned when parsing an unknown preset name.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown preset {name:?}; valid presets are: {}", valid_preset_names())]
pub struct UnknownPreset {
    pub name: String,
}

fn valid_preset_names() -> String {
    let names: Vec<&str> = Preset::ALL.iter().map(|preset| preset.name()).collect();
    names.join(", ")
}

impl FromStr for Preset {
    type Err = UnknownPreset;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Preset::ALL
            .into_iter()
            .find(|preset| preset.name() == name)
            .ok_or_else(|| UnknownPreset {
                name: name.to_string(),
            })
    }
}

/// Part of a data set: the 60,000 training or the 10,000 test images before class filtering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Test,
}

impl Split {
    /// Returns the file name prefix of this split in the IDX distribution.
    pub fn file_prefix(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "t10k",
        }
    }
}

/// Images and labels of one split, filtered to a preset's classes.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Pixels scaled to [0, 1], row-major `[len, rows * cols]`.
    pub images: Vec<f32>,
    /// Original data set labels (not remapped), one per image.
    pub labels: Vec<u8>,
    pub rows: usize,
    pub cols: usize,
}

impl Dataset {
    /// Returns the number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Returns the number of pixels in one image.
    pub fn image_size(&self) -> usize {
        self.rows * self.cols
    }

    /// Returns the pixels of image `index`.
    pub fn image(&self, index: usize) -> &[f32] {
        let size = self.image_size();
        &self.images[index * size..(index + 1) * size]
    }

    /// Returns a copy of the first `count` images and labels, or of all of them when `count`
    /// exceeds the length.
    pub fn take_first(&self, count: usize) -> Dataset {
        let count = count.min(self.len());
        Dataset {
            images: self.images[..count * self.image_size()].to_vec(),
            labels: self.labels[..count].to_vec(),
            rows: self.rows,
            cols: self.cols,
        }
    }
}

/// Loads one split of a preset from `data_dir/<dir_name>/`, keeping only the preset's classes.
///
/// For each file the raw name (`train-images-idx3-ubyte`) is preferred and the gzipped name
/// (`train-images-idx3-ubyte.gz`) is accepted. When neither exists the error names the raw path.
pub fn load_split(data_dir: &Path, preset: Preset, split: Split) -> Result<Dataset, DataError> {
    let dir = data_dir.join(preset.dir_name());
    let prefix = split.file_prefix();
    let images_path = find_idx_file(&dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels_path = find_idx_file(&dir, &format!("{prefix}-labels-idx1-ubyte"))?;

    let images = read_images(&images_path)?;
    let labels = read_labels(&labels_path)?;
    if images.count != labels.len() {
        return Err(DataError::CountMismatch {
            images_path,
            labels_path,
            images: images.count,
            labels: labels.len(),
        });
    }
    if let Some(index) = labels.iter().position(|&label| label >= NUM_LABELS) {
        return Err(DataError::InvalidLabel {
            path: labels_path,
            index,
            label: labels[index],
        });
    }

    let classes = preset.classes();
    let kept_indices: Vec<usize> = (0..labels.len())
        .filter(|&index| classes.contains(&labels[index]))
        .collect();
    let image_size = images.rows * images.cols;
    let mut pixels = Vec::with_capacity(kept_indices.len() * image_size);
    for &index in &kept_indices {
        pixels.extend(
            images
                .image(index)
                .iter()
                .map(|&value| f32::from(value) / 255.0),
        );
    }
    Ok(Dataset {
        images: pixels,
        labels: kept_indices.iter().map(|&index| labels[index]).collect(),
        rows: images.rows,
        cols: images.cols,
    })
}

/// Returns `dir/name` when it exists, otherwise `dir/name.gz` when that exists.
fn find_idx_file(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    let raw = dir.join(name);
    if raw.is_file() {
        return Ok(raw);
    }
    let gzipped = dir.join(format!("{name}.gz"));
    if gzipped.is_file() {
        return Ok(gzipped);
    }
    Err(DataError::MissingFile { path: raw })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Temporary directory that is removed when dropped.
    struct TestDir(PathBuf);

    impl TestDir {
        fn new(test_name: &str) -> TestDir {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!(
                "genksc-data-{test_name}-{}-{unique}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            TestDir(path)
        }

        fn path(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn idx_bytes(magic: u32, dimensions: &[u32], data: &[u8]) -> Vec<u8> {
        let mut bytes = magic.to_be_bytes().to_vec();
        for dimension in dimensions {
            bytes.extend_from_slice(&dimension.to_be_bytes());
        }
        bytes.extend_from_slice(data);
        bytes
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn write_file(path: &Path, bytes: &[u8]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// Two 2x3 images with pixel values 0..12.
    fn small_images() -> Vec<u8> {
        idx_bytes(IMAGES_MAGIC, &[2, 2, 3], &(0..12).collect::<Vec<u8>>())
    }

    /// Writes `bytes` to a file `file_name` in a fresh folder and returns the error of `read`
    /// on it.
    fn read_error<T: std::fmt::Debug>(
        file_name: &str,
        bytes: &[u8],
        read: impl Fn(PathBuf) -> Result<T, DataError>,
    ) -> DataError {
        let dir = TestDir::new(file_name);
        let path = dir.path(file_name);
        write_file(&path, bytes);
        read(path).unwrap_err()
    }

    /// Returns the variant name and the `(expected, actual)` byte counts of a
    /// [`DataError::Truncated`] or [`DataError::TrailingData`].
    fn size_mismatch(error: &DataError) -> Option<(&'static str, u64, u64)> {
        match *error {
            DataError::Truncated {
                expected, actual, ..
            } => Some(("Truncated", expected, actual)),
            DataError::TrailingData {
                expected, actual, ..
            } => Some(("TrailingData", expected, actual)),
            _ => None,
        }
    }

    #[test]
    fn images_raw_round_trip() {
        let dir = TestDir::new("images-raw");
        let path = dir.path("images-idx3-ubyte");
        write_file(&path, &small_images());
        let images = read_images(&path).unwrap();
        assert_eq!(images.count, 2);
        assert_eq!(images.rows, 2);
        assert_eq!(images.cols, 3);
        assert_eq!(images.pixels, (0..12).collect::<Vec<u8>>());
        assert_eq!(images.image(1), &[6, 7, 8, 9, 10, 11]);
    }

    #[test]
    fn images_gzip_round_trip() {
        let dir = TestDir::new("images-gzip");
        let path = dir.path("images-idx3-ubyte.gz");
        write_file(&path, &gzip(&small_images()));
        let images = read_images(&path).unwrap();
        assert_eq!(images.count, 2);
        assert_eq!(images.pixels, (0..12).collect::<Vec<u8>>());
    }

    #[test]
    fn gzip_detected_by_magic_bytes() {
        let dir = TestDir::new("gzip-magic");
        let path = dir.path("images-without-suffix");
        write_file(&path, &gzip(&small_images()));
        let images = read_images(&path).unwrap();
        assert_eq!(images.pixels, (0..12).collect::<Vec<u8>>());
    }

    #[test]
    fn labels_raw_and_gzip_round_trip() {
        let dir = TestDir::new("labels");
        let bytes = idx_bytes(LABELS_MAGIC, &[4], &[3, 1, 4, 1]);
        write_file(&dir.path("labels"), &bytes);
        write_file(&dir.path("labels.gz"), &gzip(&bytes));
        assert_eq!(read_labels(dir.path("labels")).unwrap(), vec![3, 1, 4, 1]);
        assert_eq!(
            read_labels(dir.path("labels.gz")).unwrap(),
            vec![3, 1, 4, 1]
        );
    }

    #[test]
    fn empty_label_file_is_valid() {
        let dir = TestDir::new("labels-empty");
        write_file(&dir.path("labels"), &idx_bytes(LABELS_MAGIC, &[0], &[]));
        assert_eq!(read_labels(dir.path("labels")).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn missing_file_names_path_and_script() {
        let dir = TestDir::new("missing");
        let path = dir.path("absent-idx3-ubyte");
        let error = read_images(&path).unwrap_err();
        assert!(matches!(&error, DataError::MissingFile { path: p } if *p == path));
        let message = error.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("scripts/fetch-data.sh"), "{message}");
    }

    #[test]
    fn wrong_magic_reports_found_and_expected() {
        let dir = TestDir::new("magic");
        let path = dir.path("labels-as-images");
        write_file(&path, &idx_bytes(LABELS_MAGIC, &[1, 1, 1], &[0]));
        let error = read_images(&path).unwrap_err();
        match &error {
            DataError::WrongMagic {
                path: p,
                found,
                expected,
            } => {
                assert_eq!(*p, path);
                assert_eq!(*found, LABELS_MAGIC);
                assert_eq!(*expected, IMAGES_MAGIC);
            }
            other => panic!("expected WrongMagic, got {other:?}"),
        }
        let message = error.to_string();
        assert!(message.contains("0x00000801"), "{message}");
        assert!(message.contains("0x00000803"), "{message}");
    }

    #[test]
    fn wrong_magic_in_gzip_file() {
        let bytes = gzip(&idx_bytes(0x1234_5678, &[1, 1, 1], &[0]));
        let error = read_error("images.gz", &bytes, read_images);
        assert!(
            matches!(
                error,
                DataError::WrongMagic {
                    found: 0x1234_5678,
                    ..
                }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn truncated_header() {
        let error = read_error("images", &small_images()[..10], read_images);
        assert_eq!(
            size_mismatch(&error),
            Some(("Truncated", 16, 10)),
            "{error:?}"
        );
    }

    #[test]
    fn file_shorter_than_magic_is_truncated() {
        let error = read_error("labels", &[0, 0], read_labels);
        assert_eq!(
            size_mismatch(&error),
            Some(("Truncated", 8, 2)),
            "{error:?}"
        );
    }

    #[test]
    fn truncated_raw_data() {
        let dir = TestDir::new("short-raw");
        let path = dir.path("images");
        let bytes = small_images();
        write_file(&path, &bytes[..bytes.len() - 5]);
        let error = read_images(&path).unwrap_err();
        match &error {
            DataError::Truncated {
                path: p,
                expected,
                actual,
            } => {
                assert_eq!(*p, path);
                assert_eq!(*expected, 28);
                assert_eq!(*actual, 23);
            }
            other => panic!("expected Truncated, got {other:?}"),
        }
        let message = error.to_string();
        assert!(message.contains("28"), "{message}");
        assert!(message.contains("23"), "{message}");
    }

    #[test]
    fn truncated_gzip_data() {
        let bytes = small_images();
        let error = read_error("images.gz", &gzip(&bytes[..bytes.len() - 5]), read_images);
        assert_eq!(
            size_mismatch(&error),
            Some(("Truncated", 28, 23)),
            "{error:?}"
        );
    }

    #[test]
    fn cut_gzip_stream_is_an_error() {
        let compressed = gzip(&small_images());
        let error = read_error(
            "images.gz",
            &compressed[..compressed.len() - 6],
            read_images,
        );
        // Depending on where the stream is cut, the decoder either delivers fewer bytes or fails
        // the CRC and length check of the gzip trailer.
        assert!(
            matches!(error, DataError::Truncated { .. } | DataError::Io { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn trailing_raw_data() {
        let bytes = idx_bytes(LABELS_MAGIC, &[2], &[1, 2, 3]);
        let error = read_error("labels", &bytes, read_labels);
        assert_eq!(
            size_mismatch(&error),
            Some(("TrailingData", 10, 11)),
            "{error:?}"
        );
    }

    #[test]
    fn trailing_gzip_data() {
        let bytes = gzip(&idx_bytes(LABELS_MAGIC, &[2], &[1, 2, 3, 4]));
        let error = read_error("labels.gz", &bytes, read_labels);
        assert_eq!(
            size_mismatch(&error),
            Some(("TrailingData", 10, 12)),
            "{error:?}"
        );
    }

    #[test]
    fn absurd_dimensions_rejected() {
        let dir = TestDir::new("dimensions");
        let cases: [[u32; 3]; 4] = [
            [1, 0, 28],
            [1, 28, MAX_IMAGE_SIDE + 1],
            [u32::MAX, 1024, 1024],
            [u32::MAX, 28, 28],
        ];
        for dimensions in cases {
            for name in ["images", "images.gz"] {
                let path = dir.path(name);
                let bytes = idx_bytes(IMAGES_MAGIC, &dimensions, &[0; 16]);
                let bytes = if name.ends_with(".gz") {
                    gzip(&bytes)
                } else {
                    bytes
                };
                write_file(&path, &bytes);
                let error = read_images(&path).unwrap_err();
                match error {
                    DataError::InvalidDimensions {
                        dimensions: found, ..
                    } => {
                        assert_eq!(found, dimensions.to_vec(), "{name}")
                    }
                    other => {
                        panic!("{name} {dimensions:?}: expected InvalidDimensions, got {other:?}")
                    }
                }
            }
        }
    }

    #[test]
    fn huge_label_count_is_truncated_not_allocated() {
        let bytes = gzip(&idx_bytes(LABELS_MAGIC, &[u32::MAX], &[1, 2]));
        let error = read_error("labels.gz", &bytes, read_labels);
        let (variant, _, actual) = size_mismatch(&error).expect("a size mismatch");
        assert_eq!(variant, "Truncated", "{error:?}");
        assert_eq!(actual, 10, "{error:?}");
    }

    /// Writes a `mnist/` split with the given labels, where image `i` has every pixel equal to
    /// `i * 10`.
    fn write_split(dir: &Path, prefix: &str, labels: &[u8], gzipped: bool) {
        let count = labels.len() as u32;
        let pixels: Vec<u8> = (0..labels.len()).flat_map(|i| [i as u8 * 10; 4]).collect();
        let images = idx_bytes(IMAGES_MAGIC, &[count, 2, 2], &pixels);
        let label_bytes = idx_bytes(LABELS_MAGIC, &[count], labels);
        let (images, label_bytes, suffix) = if gzipped {
            (gzip(&images), gzip(&label_bytes), ".gz")
        } else {
            (images, label_bytes, "")
        };
        write_file(
            &dir.join(format!("mnist/{prefix}-images-idx3-ubyte{suffix}")),
            &images,
        );
        write_file(
            &dir.join(format!("mnist/{prefix}-labels-idx1-ubyte{suffix}")),
            &label_bytes,
        );
    }

    #[test]
    fn load_split_keeps_preset_classes() {
        let dir = TestDir::new("split-filter");
        write_split(&dir.0, "train", &[5, 0, 4, 1, 9, 2, 2], false);
        let dataset = load_split(&dir.0, Preset::Mnist012, Split::Train).unwrap();
        assert_eq!(dataset.labels, vec![0, 1, 2, 2]);
        assert_eq!(dataset.len(), 4);
        assert_eq!((dataset.rows, dataset.cols), (2, 2));
        assert_eq!(dataset.images.len(), 16);
        assert_eq!(dataset.image(0), &[10.0 / 255.0; 4]);
        assert_eq!(dataset.image(3), &[60.0 / 255.0; 4]);
    }

    #[test]
    fn load_split_scales_pixels_to_unit_range() {
        let dir = TestDir::new("split-scale");
        let images = idx_bytes(IMAGES_MAGIC, &[1, 1, 3], &[0, 128, 255]);
        write_file(&dir.path("mnist/t10k-images-idx3-ubyte"), &images);
        write_file(
            &dir.path("mnist/t10k-labels-idx1-ubyte"),
            &idx_bytes(LABELS_MAGIC, &[1], &[1]),
        );
        let dataset = load_split(&dir.0, Preset::Mnist012, Split::Test).unwrap();
        assert_eq!(dataset.images, vec![0.0, 128.0 / 255.0, 1.0]);
    }

    #[test]
    fn load_split_accepts_gzip_and_prefers_raw() {
        let dir = TestDir::new("split-gzip");
        write_split(&dir.0, "train", &[0, 1], true);
        let from_gzip = load_split(&dir.0, Preset::Mnist012, Split::Train).unwrap();
        assert_eq!(from_gzip.labels, vec![0, 1]);

        write_split(&dir.0, "train", &[2, 2, 2], false);
        let from_raw = load_split(&dir.0, Preset::Mnist012, Split::Train).unwrap();
        assert_eq!(from_raw.labels, vec![2, 2, 2]);
    }

    #[test]
    fn load_split_missing_file() {
        let dir = TestDir::new("split-missing");
        let error = load_split(&dir.0, Preset::FashionMnist, Split::Test).unwrap_err();
        let expected = dir.path("fashion-mnist/t10k-images-idx3-ubyte");
        assert!(
            matches!(&error, DataError::MissingFile { path } if *path == expected),
            "{error:?}"
        );
        assert!(error.to_string().contains("scripts/fetch-data.sh"));
    }

    #[test]
    fn load_split_count_mismatch() {
        let dir = TestDir::new("split-mismatch");
        write_split(&dir.0, "train", &[0, 1, 2], false);
        let labels = idx_bytes(LABELS_MAGIC, &[2], &[0, 1]);
        write_file(&dir.path("mnist/train-labels-idx1-ubyte"), &labels);
        let error = load_split(&dir.0, Preset::Mnist012, Split::Train).unwrap_err();
        assert!(
            matches!(
                error,
                DataError::CountMismatch {
                    images: 3,
                    labels: 2,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("3 images but"), "{error}");
    }

    #[test]
    fn load_split_rejects_invalid_label() {
        let dir = TestDir::new("split-label");
        write_split(&dir.0, "train", &[0, 1, 12], false);
        let error = load_split(&dir.0, Preset::Mnist012, Split::Train).unwrap_err();
        assert!(
            matches!(
                error,
                DataError::InvalidLabel {
                    index: 2,
                    label: 12,
                    ..
                }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn take_first_copies_prefix() {
        let dir = TestDir::new("take-first");
        write_split(&dir.0, "train", &[0, 1, 2], false);
        let dataset = load_split(&dir.0, Preset::Mnist012, Split::Train).unwrap();
        let first = dataset.take_first(2);
        assert_eq!(first.labels, vec![0, 1]);
        assert_eq!(first.images, dataset.images[..8].to_vec());
        assert_eq!(dataset.take_first(10), dataset);
        assert!(dataset.take_first(0).is_empty());
    }

    #[test]
    fn preset_names_round_trip() {
        for preset in Preset::ALL {
            assert_eq!(preset.name().parse::<Preset>(), Ok(preset));
            assert_eq!(preset.to_string(), preset.name());
            assert_eq!(preset.cluster_names().len(), preset.classes().len());
        }
        assert_eq!(Preset::Mnist012.dir_name(), "mnist");
        assert_eq!(Preset::FashionMnist.dir_name(), "fashion-mnist");
        assert_eq!(Preset::FashionMnist.cluster_names()[9], "Ankle boot");
    }

    #[test]
    fn unknown_preset_lists_valid_names() {
        let error = "mnist".parse::<Preset>().unwrap_err();
        let message = error.to_string();
        assert!(message.contains("\"mnist\""), "{message}");
        assert!(message.contains("mnist012, fashion-mnist"), "{message}");
    }

    fn class_counts(labels: &[u8]) -> [usize; 10] {
        let mut counts = [0; 10];
        for &label in labels {
            counts[label as usize] += 1;
        }
        counts
    }

    /// Checks the fetched data sets. Skipped with a message when `data/` has not been fetched.
    #[test]
    fn real_data_counts() {
        let data_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
        let mnist_ready = data_dir.join("mnist").is_dir();
        let fashion_ready = data_dir.join("fashion-mnist").is_dir();
        if !mnist_ready || !fashion_ready {
            eprintln!(
                "skipping real_data_counts: {} is missing MNIST or Fashion-MNIST; {FETCH_HINT}",
                data_dir.display()
            );
            return;
        }

        let train = load_split(&data_dir, Preset::Mnist012, Split::Train).unwrap();
        assert_eq!(train.len(), 18_623);
        assert_eq!(&class_counts(&train.labels)[..3], &[5_923, 6_742, 5_958]);
        assert_eq!((train.rows, train.cols), (28, 28));
        assert_eq!(train.images.len(), 18_623 * 784);
        let test = load_split(&data_dir, Preset::Mnist012, Split::Test).unwrap();
        assert_eq!(test.len(), 3_147);
        assert_eq!(&class_counts(&test.labels)[..3], &[980, 1_135, 1_032]);

        let train = load_split(&data_dir, Preset::FashionMnist, Split::Train).unwrap();
        assert_eq!(train.len(), 60_000);
        assert_eq!(class_counts(&train.labels), [6_000; 10]);
        assert_eq!(train.images.len(), 60_000 * 784);
        assert!(
            train
                .images
                .iter()
                .all(|&pixel| (0.0..=1.0).contains(&pixel))
        );
        let test = load_split(&data_dir, Preset::FashionMnist, Split::Test).unwrap();
        assert_eq!(test.len(), 10_000);
        assert_eq!(class_counts(&test.labels), [1_000; 10]);
    }
}
