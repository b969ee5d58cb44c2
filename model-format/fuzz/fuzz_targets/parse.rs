//! Feeds arbitrary bytes to `Model::parse` and walks every accessor of the models it accepts.

#![no_main]

use libfuzzer_sys::fuzz_target;
use model_format::{Model, crc32};

fn touch_everything(model: &Model<'_>) -> usize {
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

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = Model::parse(data) {
        touch_everything(&model);
    }

    // Random bytes almost never carry a matching CRC. A second pass rewrites it so that the
    // fuzzer also reaches the payload parser.
    if data.len() >= 16 {
        let mut fixed = data.to_vec();
        let crc = crc32(&fixed[16..]);
        fixed[12..16].copy_from_slice(&crc.to_le_bytes());
        if let Ok(model) = Model::parse(&fixed) {
            touch_everything(&model);
        }
    }
});
