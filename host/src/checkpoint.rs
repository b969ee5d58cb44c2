//! Training checkpoints, written atomically so that a killed run loses at most one epoch.
//!
//! A checkpoint is one file:
//!
//! ```text
//! offset  size  field
//! 0       8     magic "GKSCCKPT"
//! 8       4     format version, u32 little-endian (currently 1)
//! 12      8     length A of the metadata, u64 little-endian
//! 20      A     metadata, JSON (configuration, epoch, U, Cayley ADAM state, mean, shuffle state)
//! ..      8     length B of the network weights, u64 little-endian
//! ..      B     network weights, Burn's burnpack record
//! ..      8     length C of the Adam state, u64 little-endian
//! ..      C     Adam state, Burn's burnpack record
//! ```

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};

use crate::cayley::CayleyAdamState;
use crate::config::TrainConfig;
use crate::model::AutoEncoder;

const MAGIC: &[u8; 8] = b"GKSCCKPT";
const VERSION: u32 = 1;

/// Everything in a checkpoint besides the Burn records.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub config: TrainConfig,
    /// Epochs finished.
    pub epoch: usize,
    /// `U`, `[d_f, s]` row-major.
    pub projection: Vec<f32>,
    pub cayley: CayleyAdamState,
    /// Weighted mean of the training features.
    pub mean: Vec<f32>,
    pub shuffle_state: u64,
}

/// A checkpoint read back from disk.
pub struct Checkpoint {
    pub meta: CheckpointMeta,
    pub model: ModuleRecord,
    pub optimizer: Bytes,
}

/// Writes a checkpoint to `path` through a temporary file and a rename.
pub fn save(
    path: &Path,
    meta: &CheckpointMeta,
    model: &AutoEncoder,
    optimizer: &ModuleOptimizer,
) -> Result<()> {
    let meta = serde_json::to_vec(meta)?;
    let model = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|error| anyhow::anyhow!("cannot serialise the network weights: {error}"))?;
    let optimizer = optimizer
        .into_bytes()
        .map_err(|error| anyhow::anyhow!("cannot serialise the Adam state: {error}"))?;

    let mut bytes = Vec::with_capacity(12 + 24 + meta.len() + model.len() + optimizer.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    for section in [&meta[..], &model[..], &optimizer[..]] {
        bytes.extend_from_slice(&(section.len() as u64).to_le_bytes());
        bytes.extend_from_slice(section);
    }
    write_atomically(path, &bytes)
}

/// Reads a checkpoint written by [`save`].
pub fn load(path: &Path) -> Result<Checkpoint> {
    let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    ensure!(
        bytes.len() >= 12 && &bytes[..8] == MAGIC,
        "{} is not a GenKSC checkpoint (wrong magic bytes)",
        path.display()
    );
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version != VERSION {
        bail!(
            "{} has checkpoint version {version}; this build reads version {VERSION}",
            path.display()
        );
    }
    let mut rest = &bytes[12..];
    let mut sections = Vec::with_capacity(3);
    for name in ["metadata", "network weights", "Adam state"] {
        ensure!(
            rest.len() >= 8,
            "{} is truncated before its {name}",
            path.display()
        );
        let (length, tail) = rest.split_at(8);
        let length = u64::from_le_bytes(length.try_into().expect("8 bytes"));
        let length = usize::try_from(length)
            .ok()
            .filter(|length| *length <= tail.len());
        let Some(length) = length else {
            bail!("{} is truncated inside its {name}", path.display());
        };
        let (section, tail) = tail.split_at(length);
        sections.push(section);
        rest = tail;
    }
    ensure!(
        rest.is_empty(),
        "{} has {} unexpected trailing bytes",
        path.display(),
        rest.len()
    );

    let meta: CheckpointMeta = serde_json::from_slice(sections[0])
        .with_context(|| format!("invalid metadata in {}", path.display()))?;
    let model =
        ModuleRecord::from_bytes(Bytes::from_bytes_vec(sections[1].to_vec())).map_err(|error| {
            anyhow::anyhow!("invalid network weights in {}: {error}", path.display())
        })?;
    let optimizer = Bytes::from_bytes_vec(sections[2].to_vec());
    Ok(Checkpoint {
        meta,
        model,
        optimizer,
    })
}

/// Preset of the run whose checkpoint is at `path`.
pub fn stored_preset(path: &Path) -> Result<crate::data::Preset> {
    Ok(load(path)?.meta.config.preset)
}

/// Writes `bytes` to `path` so that a reader sees either the old or the new file, never a part.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = Path::new(&temporary);
    let mut file = File::create(temporary)
        .with_context(|| format!("cannot create {}", temporary.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    file.sync_all()
        .with_context(|| format!("cannot flush {}", temporary.display()))?;
    drop(file);
    fs::rename(temporary, path)
        .with_context(|| format!("cannot move {} to {}", temporary.display(), path.display()))
}
