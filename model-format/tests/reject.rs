//! One test per kind of rejected input.

// The tests build files with the writer, which needs `std`.
#![cfg(feature = "std")]

mod common;

use std::ops::RangeInclusive;

use common::reader::fix_crc;
use common::{FIRST_LAYER_OFFSET, sample_spec};
use model_format::{
    FormatError, HEADER_LEN, LayerKind, MAX_CLUSTERS, MAX_LATENT, MAX_LAYERS, MAX_SPATIAL, Model,
    ModelSpec, crc32,
};

fn sample_bytes() -> Vec<u8> {
    sample_spec().to_bytes().expect("sample spec is valid")
}

fn find(bytes: &[u8], needle: &[u8]) -> usize {
    bytes
        .windows(needle.len())
        .position(|window| window == needle)
        .expect("needle present")
}

/// Applies `edit` to the sample file and returns the error `Model::parse` reports for the result.
/// The header CRC stays as written, so any change to the payload also breaks the checksum.
fn parse_edited(edit: impl FnOnce(&mut Vec<u8>)) -> FormatError {
    let mut bytes = sample_bytes();
    edit(&mut bytes);
    Model::parse(&bytes).expect_err("edited file is rejected")
}

/// Like [`parse_edited`], but rewrites the header CRC after the edit, so that parsing gets past
/// the checksum to the check under test.
fn parse_edited_with_crc(edit: impl FnOnce(&mut Vec<u8>)) -> FormatError {
    parse_edited(|bytes| {
        edit(bytes);
        fix_crc(bytes);
    })
}

/// Applies `edit` to the sample spec and returns the error `ModelSpec::to_bytes` reports for it.
fn write_edited(edit: impl FnOnce(&mut ModelSpec)) -> FormatError {
    let mut spec = sample_spec();
    edit(&mut spec);
    spec.to_bytes().expect_err("edited spec is rejected")
}

/// Builds the error for a count or size `value` of `field` outside `allowed`.
fn limit_exceeded(
    field: &'static str,
    value: usize,
    allowed: RangeInclusive<usize>,
) -> FormatError {
    FormatError::LimitExceeded {
        field,
        value,
        min: *allowed.start(),
        max: *allowed.end(),
    }
}

/// Overwrites the bytes at `offset` with `value`.
fn put(bytes: &mut [u8], offset: usize, value: &[u8]) {
    bytes[offset..offset + value.len()].copy_from_slice(value);
}

/// Cuts or zero-extends the file to `len` bytes and declares the new payload length in the
/// header, so that the length check passes.
fn resize_file(bytes: &mut Vec<u8>, len: usize) {
    bytes.resize(len, 0);
    let payload_len = (len - HEADER_LEN) as u32;
    put(bytes, 8, &payload_len.to_le_bytes());
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
    let error = parse_edited(|bytes| bytes[0] = b'X');
    assert_eq!(error, FormatError::BadMagic);
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
    let error = parse_edited(|bytes| bytes.truncate(10));
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
    let len = sample_bytes().len();
    let error = parse_edited(|bytes| bytes.truncate(len - 5));
    assert_eq!(
        error,
        FormatError::Truncated {
            needed: len,
            available: len - 5
        }
    );
}

#[test]
fn payload_shorter_than_its_contents() {
    // Drop the last 4 bytes, which are prototype pixels, and declare the shorter payload, so
    // that the parser runs out of payload while reading the prototypes.
    let len = sample_bytes().len();
    let error = parse_edited_with_crc(|bytes| resize_file(bytes, len - 4));
    assert_eq!(
        error,
        FormatError::Truncated {
            needed: len,
            available: len - 4
        }
    );
}

#[test]
fn future_version() {
    let error = parse_edited(|bytes| put(bytes, 4, &2u16.to_le_bytes()));
    assert_eq!(error, FormatError::UnsupportedVersion { version: 2 });
}

#[test]
fn version_zero() {
    let error = parse_edited(|bytes| put(bytes, 4, &0u16.to_le_bytes()));
    assert_eq!(error, FormatError::UnsupportedVersion { version: 0 });
}

#[test]
fn corrupt_payload_byte() {
    let mut bytes = sample_bytes();
    let expected = u32::from_le_bytes(bytes[12..16].try_into().unwrap());
    let last = bytes.len() - 1;
    bytes[last] ^= 0x10;
    let error = Model::parse(&bytes).unwrap_err();
    let actual = crc32(&bytes[16..]);
    assert_eq!(error, FormatError::ChecksumMismatch { expected, actual });
}

#[test]
fn corrupt_checksum_field() {
    let crc = crc32(&sample_bytes()[16..]);
    let error = parse_edited(|bytes| bytes[12] ^= 1);
    let expected = FormatError::ChecksumMismatch {
        expected: crc ^ 1,
        actual: crc,
    };
    assert_eq!(error, expected);
}

#[test]
fn trailing_bytes() {
    let end = sample_bytes().len();
    let error = parse_edited(|bytes| bytes.extend_from_slice(&[0; 4]));
    assert_eq!(error, FormatError::TrailingBytes { offset: end });
}

#[test]
fn trailing_bytes_inside_payload() {
    let end = sample_bytes().len();
    let error = parse_edited_with_crc(|bytes| resize_file(bytes, end + 4));
    assert_eq!(error, FormatError::TrailingBytes { offset: end });
}

#[test]
fn unaligned_payload_length() {
    let len = sample_bytes().len();
    let error = parse_edited_with_crc(|bytes| resize_file(bytes, len + 1));
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
    let error = parse_edited(|bytes| bytes[6] = 1);
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
    let weights_end = FIRST_LAYER_OFFSET + 28 + 2 * 20 + 18;
    let error = parse_edited_with_crc(|bytes| bytes[weights_end] = 1);
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
    let error = parse_edited_with_crc(|bytes| bytes[16 + 6] = (MAX_LAYERS + 1) as u8);
    let expected = limit_exceeded("layer count", MAX_LAYERS + 1, 0..=MAX_LAYERS);
    assert_eq!(error, expected);
}

#[test]
fn single_cluster() {
    let error = parse_edited_with_crc(|bytes| bytes[16 + 7] = 1);
    let expected = limit_exceeded("cluster count", 1, 2..=MAX_CLUSTERS);
    assert_eq!(error, expected);
}

#[test]
fn latent_size_below_cluster_dimensions() {
    // The sample has 3 clusters, so the latent size must be at least 2.
    let error = parse_edited_with_crc(|bytes| put(bytes, 16 + 8, &1u16.to_le_bytes()));
    let expected = limit_exceeded("latent size", 1, 2..=MAX_LATENT);
    assert_eq!(error, expected);
}

#[test]
fn zero_input_height() {
    let error = parse_edited_with_crc(|bytes| put(bytes, 16 + 2, &0u16.to_le_bytes()));
    let expected = limit_exceeded("input height", 0, 1..=MAX_SPATIAL);
    assert_eq!(error, expected);
}

#[test]
fn nan_threshold() {
    let error = parse_edited_with_crc(|bytes| put(bytes, 32, &f32::NAN.to_le_bytes()));
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
    let error = parse_edited_with_crc(|bytes| put(bytes, 28, &0f32.to_le_bytes()));
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
    let error = parse_edited_with_crc(|bytes| bytes[FIRST_LAYER_OFFSET] = 7);
    let reason = "unknown layer kind code";
    assert_eq!(error, FormatError::InvalidLayer { index: 0, reason });
}

#[test]
fn unknown_activation() {
    let error = parse_edited_with_crc(|bytes| bytes[FIRST_LAYER_OFFSET + 1] = 9);
    let reason = "unknown activation code";
    assert_eq!(error, FormatError::InvalidLayer { index: 0, reason });
}

#[test]
fn conv_channels_disagree_with_input() {
    let in_channels = FIRST_LAYER_OFFSET + 4;
    let error = parse_edited_with_crc(|bytes| put(bytes, in_channels, &2u16.to_le_bytes()));
    let reason = "input channels differ from the channels of the previous tensor";
    assert_eq!(error, FormatError::InvalidLayer { index: 0, reason });
}

#[test]
fn zero_stride() {
    let error = parse_edited_with_crc(|bytes| bytes[FIRST_LAYER_OFFSET + 10] = 0);
    let reason = "kernel size or stride outside 1..=MAX_KERNEL";
    assert_eq!(error, FormatError::InvalidLayer { index: 0, reason });
}

#[test]
fn padding_as_large_as_kernel() {
    let error = parse_edited_with_crc(|bytes| bytes[FIRST_LAYER_OFFSET + 12] = 3);
    let reason = "padding is not smaller than the kernel";
    assert_eq!(error, FormatError::InvalidLayer { index: 0, reason });
}

#[test]
fn bias_out_of_range() {
    let bias_offset = FIRST_LAYER_OFFSET + 28;
    let bias = (1i32 << 30) + 1;
    let error = parse_edited_with_crc(|bytes| put(bytes, bias_offset, &bias.to_le_bytes()));
    let reason = "bias magnitude exceeds MAX_ABS_BIAS";
    assert_eq!(error, FormatError::InvalidLayer { index: 0, reason });
}

#[test]
fn multiplier_below_half() {
    let multiplier_offset = FIRST_LAYER_OFFSET + 28 + 8;
    let multiplier = 12345i32.to_le_bytes();
    let error = parse_edited_with_crc(|bytes| put(bytes, multiplier_offset, &multiplier));
    let reason = "requantization multiplier or shift out of range";
    assert_eq!(error, FormatError::InvalidLayer { index: 0, reason });
}

#[test]
fn shift_out_of_range() {
    let shift_offset = FIRST_LAYER_OFFSET + 28 + 16;
    let error = parse_edited_with_crc(|bytes| bytes[shift_offset] = 32);
    let reason = "requantization multiplier or shift out of range";
    assert_eq!(error, FormatError::InvalidLayer { index: 0, reason });
}

#[test]
fn negative_requantization_without_activation() {
    // Layer 1 (dense, no activation) starts after layer 0's 28 + 40 + 20 bytes.
    let negative_shift = FIRST_LAYER_OFFSET + 88 + 28 + 17;
    let error = parse_edited_with_crc(|bytes| bytes[negative_shift] = 4);
    let reason = "negative requantization differs from positive without an activation";
    assert_eq!(error, FormatError::InvalidLayer { index: 1, reason });
}

#[test]
fn dense_features_disagree_with_input() {
    let in_features = FIRST_LAYER_OFFSET + 88 + 4;
    let error = parse_edited_with_crc(|bytes| put(bytes, in_features, &17u16.to_le_bytes()));
    let reason = "input features differ from the length of the previous tensor";
    assert_eq!(error, FormatError::InvalidLayer { index: 1, reason });
}

#[test]
fn cluster_name_not_utf8() {
    let name = find(&sample_bytes(), b"\x04zero");
    let error = parse_edited_with_crc(|bytes| bytes[name + 1] = 0xFF);
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
    let last_code = find(&sample_bytes(), b"\x04zero") - 4;
    let infinity = f32::INFINITY.to_le_bytes();
    let error = parse_edited_with_crc(|bytes| put(bytes, last_code, &infinity));
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
    let error = write_edited(|spec| {
        spec.layers[1].weights.pop();
    });
    let reason = "weight count differs from out_channels x fan-in";
    assert_eq!(error, FormatError::InvalidLayer { index: 1, reason });
}

#[test]
fn writer_rejects_wrong_channel_count() {
    let error = write_edited(|spec| {
        spec.layers[0].channels.pop();
    });
    let reason = "channel parameter count differs from out_channels";
    assert_eq!(error, FormatError::InvalidLayer { index: 0, reason });
}

#[test]
fn writer_rejects_missing_prototype() {
    // The writer checks its output with `Model::parse`, which finds the prototypes one
    // 36-pixel image short.
    let error = write_edited(|spec| spec.prototypes.truncate(36 * 2));
    let len = sample_bytes().len();
    let expected = FormatError::Truncated {
        needed: len,
        available: len - 36,
    };
    assert_eq!(error, expected);
}

#[test]
fn writer_rejects_long_name() {
    let error = write_edited(|spec| spec.cluster_names[2] = "x".repeat(256));
    let expected = limit_exceeded("cluster name length", 256, 0..=255);
    assert_eq!(error, expected);
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
