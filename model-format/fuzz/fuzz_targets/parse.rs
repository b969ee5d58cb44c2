//! Feeds arbitrary bytes to `Model::parse` and walks every accessor of the models it accepts.

#![no_main]

use libfuzzer_sys::fuzz_target;
use model_format::Model;

// Shared with the integration tests, so that both walk a parsed model the same way.
#[path = "../../tests/common/reader.rs"]
mod reader;

use reader::{fix_crc, touch_everything};

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = Model::parse(data) {
        touch_everything(&model);
    }

    // Random bytes almost never carry a matching CRC. A second pass rewrites it so that the
    // fuzzer also reaches the payload parser.
    if data.len() >= 16 {
        let mut fixed = data.to_vec();
        fix_crc(&mut fixed);
        if let Ok(model) = Model::parse(&fixed) {
            touch_everything(&model);
        }
    }
});
