//! One test per kind of rejected input.

// The tests build files with the writer, which needs `std`.
#![cfg(feature = "std")]

mod common;

use common::reader::fix_crc;
use common::{FIRST_LAYER_OFFSET, sample_spec};
use model_format::{FormatError, LayerKind, MAX_LAYERS, Model};

fn sample_bytes() -> Vec<u8> {
    sample_spec().to_bytes().expect("sample spec is valid")
}

fn find(bytes: &[u8], needle: &[u8]) -> usize {
    bytes
        .windows(needle.len())
        .position(|window| window == needle)
        .expect("needle present")
}

#[test]
fn sample_parses() {
    let bytes = sample_bytes();
    let model = Model::parse(&bytes).unwrap();
    assert_eq!(model.layer_count(), 2);
    assert_eq!(model.clusters(), 3);
}

#[test]
fn bad_magic() {
    let mut bytes = sample_bytes();
    bytes[0] = b'X';
    assert_eq!(Model::parse(&bytes).unwrap_err(), FormatError::BadMagic);
}

#[test]
fn bad_magic_in_short_file() {
    assert_eq!(Model::parse(b"GX").unwrap_err(), FormatError::BadMagic);
}

#[test]
fn empty_file_is_truncated() {
    let error = Model::parse(&[]).unwrap_err();
    assert_eq!(
        error,
        FormatError::Truncated {
            needed: 16,
            available: 0
        }
    );
}

#[test]
fn truncated_header() {
    let bytes = sample_bytes();
    let error = Model::parse(&bytes[..10]).unwrap_err();
    assert_eq!(
        error,
        FormatError::Truncated {
            needed: 16,
            available: 10
        }
    );
}

#[test]
fn truncated_payload() {
    let bytes = sample_bytes();
    let cut = bytes.len() - 5;
    let error = Model::parse(&bytes[..cut]).unwrap_err();
    assert_eq!(
        error,
        FormatError::Truncated {
            needed: bytes.len(),
            available: cut
        }
    );
}

#[test]
fn payload_shorter_than_its_contents() {
    // Drop the last 4 payload bytes and shrink the declared length to match, so the length
    // check passes and the parser runs out of payload.
    let mut bytes = sample_bytes();
    bytes.truncate(bytes.len() - 4);
    let payload_len = (bytes.len() - 16) as u32;
    bytes[8..12].copy_from_slice(&payload_len.to_le_bytes());
    fix_crc(&mut bytes);
    let error = Model::parse(&bytes).unwrap_err();
    assert!(matches!(error, FormatError::Truncated { .. }), "{error:?}");
}

#[test]
fn future_version() {
    let mut bytes = sample_bytes();
    bytes[4..6].copy_from_slice(&2u16.to_le_bytes());
    let error = Model::parse(&bytes).unwrap_err();
    assert_eq!(error, FormatError::UnsupportedVersion { version: 2 });
}

#[test]
fn version_zero() {
    let mut bytes = sample_bytes();
    bytes[4..6].copy_from_slice(&0u16.to_le_bytes());
    let error = Model::parse(&bytes).unwrap_err();
    assert_eq!(error, FormatError::UnsupportedVersion { version: 0 });
}

#[test]
fn corrupt_payload_byte() {
    let mut bytes = sample_bytes();
    let expected = u32::from_le_bytes(bytes[12..16].try_into().unwrap());
    let last = bytes.len() - 1;
    bytes[last] ^= 0x10;
    let error = Model::parse(&bytes).unwrap_err();
    let actual = model_format::crc32(&bytes[16..]);
    assert_eq!(error, FormatError::ChecksumMismatch { expected, actual });
}

#[test]
fn corrupt_checksum_field() {
    let mut bytes = sample_bytes();
    bytes[12] ^= 1;
    let error = Model::parse(&bytes).unwrap_err();
    assert!(
        matches!(error, FormatError::ChecksumMismatch { .. }),
        "{error:?}"
    );
}

#[test]
fn trailing_bytes() {
    let mut bytes = sample_bytes();
    let end = bytes.len();
    bytes.extend_from_slice(&[0; 4]);
    let error = Model::parse(&bytes).unwrap_err();
    assert_eq!(error, FormatError::TrailingBytes { offset: end });
}

#[test]
fn trailing_bytes_inside_payload() {
    let mut bytes = sample_bytes();
    bytes.extend_from_slice(&[0; 4]);
    let payload_len = (bytes.len() - 16) as u32;
    bytes[8..12].copy_from_slice(&payload_len.to_le_bytes());
    fix_crc(&mut bytes);
    let error = Model::parse(&bytes).unwrap_err();
    assert_eq!(
        error,
        FormatError::TrailingBytes {
            offset: bytes.len() - 4
        }
    );
}

#[test]
fn unaligned_payload_length() {
    let mut bytes = sample_bytes();
    bytes.push(0);
    let payload_len = (bytes.len() - 16) as u32;
    bytes[8..12].copy_from_slice(&payload_len.to_le_bytes());
    fix_crc(&mut bytes);
    let error = Model::parse(&bytes).unwrap_err();
    assert_eq!(
        error,
        FormatError::InvalidValue {
            field: "payload length",
            offset: 8
        }
    );
}

#[test]
fn nonzero_reserved_header_bytes() {
    let mut bytes = sample_bytes();
    bytes[6] = 1;
    let error = Model::parse(&bytes).unwrap_err();
    assert_eq!(
        error,
        FormatError::InvalidValue {
            field: "reserved bytes",
            offset: 6
        }
    );
}

#[test]
fn nonzero_padding() {
    // The conv layer's 18 weights end 2 bytes before a 4-byte boundary.
    let mut bytes = sample_bytes();
    let weights_end = FIRST_LAYER_OFFSET + 28 + 2 * 20 + 18;
    bytes[weights_end] = 1;
    fix_crc(&mut bytes);
    let error = Model::parse(&bytes).unwrap_err();
    assert_eq!(
        error,
        FormatError::InvalidValue {
            field: "padding",
            offset: weights_end
        }
    );
}

#[test]
fn too_many_layers() {
    let mut bytes = sample_bytes();
    bytes[16 + 6] = (MAX_LAYERS + 1) as u8;
    fix_crc(&mut bytes);
    let error = Model::parse(&bytes).unwrap_err();
    let expected = FormatError::LimitExceeded {
        field: "layer count",
        value: MAX_LAYERS + 1,
        min: 0,
        max: MAX_LAYERS,
    };
    assert_eq!(error, expected);
}

#[test]
fn single_cluster() {
    let mut bytes = sample_bytes();
    bytes[16 + 7] = 1;
    fix_crc(&mut bytes);
    let error = Model::parse(&bytes).unwrap_err();
    assert!(
        matches!(
            error,
            FormatError::LimitExceeded {
                field: "cluster count",
                value: 1,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn latent_size_below_cluster_dimensions() {
    let mut bytes = sample_bytes();
    bytes[16 + 8..16 + 10].copy_from_slice(&1u16.to_le_bytes());
    fix_crc(&mut bytes);
    let error = Model::parse(&bytes).unwrap_err();
    assert!(
        matches!(
            error,
            FormatError::LimitExceeded {
                field: "latent size",
                value: 1,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn zero_input_height() {
    let mut bytes = sample_bytes();
    bytes[16 + 2..16 + 4].copy_from_slice(&0u16.to_le_bytes());
    fix_crc(&mut bytes);
    let error = Model::parse(&bytes).unwrap_err();
    assert!(
        matches!(
            error,
            FormatError::LimitExceeded {
                field: "input height",
                value: 0,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn nan_threshold() {
    let mut bytes = sample_bytes();
    bytes[32..36].copy_from_slice(&f32::NAN.to_le_bytes());
    fix_crc(&mut bytes);
    let error = Model::parse(&bytes).unwrap_err();
    assert_eq!(
        error,
        FormatError::InvalidValue {
            field: "uncertain threshold",
            offset: 32
        }
    );
}

#[test]
fn zero_input_scale() {
    let mut bytes = sample_bytes();
    bytes[28..32].copy_from_slice(&0f32.to_le_bytes());
    fix_crc(&mut bytes);
    let error = Model::parse(&bytes).unwrap_err();
    assert_eq!(
        error,
        FormatError::InvalidValue {
            field: "input scale",
            offset: 28
        }
    );
}

#[test]
fn unknown_layer_kind() {
    let mut bytes = sample_bytes();
    bytes[FIRST_LAYER_OFFSET] = 7;
    fix_crc(&mut bytes);
    let error = Model::parse(&bytes).unwrap_err();
    let expected = FormatError::InvalidLayer {
        index: 0,
        reason: "unknown layer kind code",
    };
    assert_eq!(error, expected);
}

#[test]
fn unknown_activation() {
    let mut bytes = sample_bytes();
    bytes[FIRST_LAYER_OFFSET + 1] = 9;
    fix_crc(&mut bytes);
    let error = Model::parse(&bytes).unwrap_err();
    let expected = FormatError::InvalidLayer {
        index: 0,
        reason: "unknown activation code",
    };
    assert_eq!(error, expected);
}

#[test]
fn conv_channels_disagree_with_input() {
    let mut bytes = sample_bytes();
    bytes[FIRST_LAYER_OFFSET + 4..FIRST_LAYER_OFFSET + 6].copy_from_slice(&2u16.to_le_bytes());
    fix_crc(&mut bytes);
    let error = Model::parse(&bytes).unwrap_err();
    assert!(
        matches!(error, FormatError::InvalidLayer { index: 0, .. }),
        "{error:?}"
    );
}

#[test]
fn zero_stride() {
    let mut bytes = sample_bytes();
    bytes[FIRST_LAYER_OFFSET + 10] = 0;
    fix_crc(&mut bytes);
    let error = Model::parse(&bytes).unwrap_err();
    let reason = "kernel size or stride outside 1..=MAX_KERNEL";
    assert_eq!(error, FormatError::InvalidLayer { index: 0, reason });
}

#[test]
fn padding_as_large_as_kernel() {
    let mut bytes = sample_bytes();
    bytes[FIRST_LAYER_OFFSET + 12] = 3;
    fix_crc(&mut bytes);
    let error = Model::parse(&bytes).unwrap_err();
    let reason = "padding is not smaller than the kernel";
    assert_eq!(error, FormatError::InvalidLayer { index: 0, reason });
}

#[test]
fn bias_out_of_range() {
    let mut bytes = sample_bytes();
    let bias_offset = FIRST_LAYER_OFFSET + 28;
    bytes[bias_offset..bias_offset + 4].copy_from_slice(&((1i32 << 30) + 1).to_le_bytes());
    fix_crc(&mut bytes);
    let error = Model::parse(&bytes).unwrap_err();
    let reason = "bias magnitude exceeds MAX_ABS_BIAS";
    assert_eq!(error, FormatError::InvalidLayer { index: 0, reason });
}

#[test]
fn multiplier_below_half() {
    let mut bytes = sample_bytes();
    let multiplier_offset = FIRST_LAYER_OFFSET + 28 + 8;
    bytes[multiplier_offset..multiplier_offset + 4].copy_from_slice(&12345i32.to_le_bytes());
    fix_crc(&mut bytes);
    let error = Model::parse(&bytes).unwrap_err();
    let reason = "requantization multiplier or shift out of range";
    assert_eq!(error, FormatError::InvalidLayer { index: 0, reason });
}

#[test]
fn shift_out_of_range() {
    let mut bytes = sample_bytes();
    let shift_offset = FIRST_LAYER_OFFSET + 28 + 16;
    bytes[shift_offset] = 32;
    fix_crc(&mut bytes);
    let error = Model::parse(&bytes).unwrap_err();
    let reason = "requantization multiplier or shift out of range";
    assert_eq!(error, FormatError::InvalidLayer { index: 0, reason });
}

#[test]
fn negative_requantization_without_activation() {
    // Layer 1 (dense, no activation) starts after layer 0's 28 + 40 + 20 bytes.
    let mut bytes = sample_bytes();
    let negative_shift = FIRST_LAYER_OFFSET + 88 + 28 + 17;
    bytes[negative_shift] = 4;
    fix_crc(&mut bytes);
    let error = Model::parse(&bytes).unwrap_err();
    assert!(
        matches!(error, FormatError::InvalidLayer { index: 1, .. }),
        "{error:?}"
    );
}

#[test]
fn dense_features_disagree_with_input() {
    let mut bytes = sample_bytes();
    let in_features = FIRST_LAYER_OFFSET + 88 + 4;
    bytes[in_features..in_features + 2].copy_from_slice(&17u16.to_le_bytes());
    fix_crc(&mut bytes);
    let error = Model::parse(&bytes).unwrap_err();
    let reason = "input features differ from the length of the previous tensor";
    assert_eq!(error, FormatError::InvalidLayer { index: 1, reason });
}

#[test]
fn cluster_name_not_utf8() {
    let mut bytes = sample_bytes();
    let name = find(&bytes, b"\x04zero");
    bytes[name + 1] = 0xFF;
    fix_crc(&mut bytes);
    let error = Model::parse(&bytes).unwrap_err();
    let field = "cluster name (not UTF-8)";
    assert_eq!(
        error,
        FormatError::InvalidValue {
            field,
            offset: name + 1
        }
    );
}

#[test]
fn infinite_cluster_code() {
    let mut bytes = sample_bytes();
    let name = find(&bytes, b"\x04zero");
    let last_code = name - 4;
    bytes[last_code..name].copy_from_slice(&f32::INFINITY.to_le_bytes());
    fix_crc(&mut bytes);
    let error = Model::parse(&bytes).unwrap_err();
    assert_eq!(
        error,
        FormatError::InvalidValue {
            field: "cluster code",
            offset: last_code
        }
    );
}

#[test]
fn writer_rejects_wrong_weight_count() {
    let mut spec = sample_spec();
    spec.layers[1].weights.pop();
    let error = spec.to_bytes().unwrap_err();
    let reason = "weight count differs from out_channels x fan-in";
    assert_eq!(error, FormatError::InvalidLayer { index: 1, reason });
}

#[test]
fn writer_rejects_wrong_channel_count() {
    let mut spec = sample_spec();
    spec.layers[0].channels.pop();
    let error = spec.to_bytes().unwrap_err();
    assert!(
        matches!(error, FormatError::InvalidLayer { index: 0, .. }),
        "{error:?}"
    );
}

#[test]
fn writer_rejects_missing_prototype() {
    let mut spec = sample_spec();
    spec.prototypes.truncate(36 * 2);
    let error = spec.to_bytes().unwrap_err();
    assert!(matches!(error, FormatError::Truncated { .. }), "{error:?}");
}

#[test]
fn writer_rejects_long_name() {
    let mut spec = sample_spec();
    spec.cluster_names[2] = "x".repeat(256);
    let error = spec.to_bytes().unwrap_err();
    assert!(
        matches!(
            error,
            FormatError::LimitExceeded {
                field: "cluster name length",
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn accessors_of_sample() {
    let spec = sample_spec();
    let bytes = spec.to_bytes().unwrap();
    let model = Model::parse(&bytes).unwrap();

    assert_eq!(model.input_len(), 36);
    assert_eq!(model.input_zero_point(), -128);
    assert_eq!(model.feature_size(), 4);
    assert_eq!(model.feature_scale(), 0.1);
    assert_eq!(model.feature_zero_point(), 3);
    assert_eq!(model.latent_size(), 3);
    assert_eq!(model.max_tensor_len(), 36);
    assert_eq!(model.max_patch_len(), 9);
    assert_eq!(model.cluster_name(1), Some("one"));
    assert_eq!(model.cluster_name(3), None);
    assert_eq!(model.prototype(2), Some(&spec.prototypes[72..108]));
    assert_eq!(model.prototype(3), None);

    let layers: Vec<_> = model.layers().collect();
    assert_eq!(layers.len(), 2);
    assert!(matches!(layers[0].kind, LayerKind::Conv2d { .. }));
    assert_eq!(layers[0].output_shape.len(), 18);
    assert_eq!(layers[1].input_zero_point, -100);
    assert_eq!(layers[1].weight_rows().len(), 4);
    assert_eq!(layers[1].channel(3), Some(spec.layers[1].channels[3]));

    let codes: Vec<Vec<f32>> = model.cluster_codes().map(Iterator::collect).collect();
    assert_eq!(codes.len(), 3);
    assert_eq!(codes[1], spec.cluster_codes[2..4]);
}

#[test]
fn parse_from_unaligned_address() {
    let bytes = sample_bytes();
    let mut shifted = vec![0u8; bytes.len() + 1];
    shifted[1..].copy_from_slice(&bytes);
    let model = Model::parse(&shifted[1..]).unwrap();
    assert_eq!(model.to_spec(), sample_spec());
}

/// Regenerates the fuzzer's seed input `fuzz/seeds/sample.gksc` from the sample spec.
#[test]
#[ignore = "writes a file; run by hand after changing the sample or the format"]
fn write_fuzz_seed() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/sample.gksc");
    std::fs::create_dir_all(std::path::Path::new(path).parent().unwrap()).unwrap();
    std::fs::write(path, sample_bytes()).unwrap();
}
