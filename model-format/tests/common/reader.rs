//! Test helpers that use only the `no_std` reader, so that the fuzz target can include this
//! file as well.

use model_format::{Model, crc32};

/// Rewrites the header's CRC so that a deliberately changed payload passes the checksum.
///
/// Panics when `bytes` is shorter than the 16-byte file header.
pub fn fix_crc(bytes: &mut [u8]) {
    let crc = crc32(&bytes[16..]);
    bytes[12..16].copy_from_slice(&crc.to_le_bytes());
}

/// Walks every accessor of a parsed model, so that a panic anywhere in them shows up.
pub fn touch_everything(model: &Model<'_>) -> usize {
    let mut count = model.input_len() + model.feature_size() + model.latent_size();
    for layer in model.layers() {
        count += layer.channels().count() + layer.weight_rows().count() + layer.fan_in();
    }
    let projection = model.projection();
    count += projection.rows().count() + projection.weight_rows().count();
    count += model.cluster_codes().flatten().count();
    count += model.cluster_names().map(str::len).sum::<usize>();
    count + model.prototypes().count()
}
