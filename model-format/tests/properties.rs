//! Property tests: write -> read round trips, and `Model::parse` on arbitrary input.

// The tests build files with the writer, which needs `std`.
#![cfg(feature = "std")]

mod common;

use common::reader::{fix_crc, touch_everything};
use common::sample_spec;
use model_format::{
    Activation, ChannelParams, LayerKind, LayerSpec, Model, ModelSpec, ProjectionRow,
    ProjectionSpec, Requantization,
};
use proptest::prelude::*;

/// Xorshift64 stream that fills weights and parameters once proptest has chosen the shapes.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn int8(&mut self) -> i8 {
        (self.below(255) as i16 - 127) as i8
    }

    /// Returns a finite positive scale between 2^-20 and 2^20.
    fn scale(&mut self) -> f32 {
        let exponent = self.below(41) as i32 - 20;
        (1.0 + self.below(1000) as f32 / 1000.0) * 2f32.powi(exponent)
    }

    fn requantization(&mut self) -> Requantization {
        if self.below(10) == 0 {
            return Requantization::ZERO;
        }
        Requantization {
            multiplier: (1 << 30) + self.below(1 << 30) as i32,
            shift: self.below(62) as i8 - 30,
        }
    }

    fn bias(&mut self) -> i32 {
        self.below((1 << 31) + 1) as i32 - (1 << 30)
    }
}

/// Proptest's choice of one layer: a conv (kernel, stride, padding, output channels) or a
/// dense layer (output features), with or without LeakyReLU.
#[derive(Clone, Debug)]
enum LayerPlan {
    Conv {
        kernel: [u8; 2],
        stride: [u8; 2],
        padding: [u8; 2],
        out: u16,
        leaky: bool,
    },
    Dense {
        out: u16,
        leaky: bool,
    },
}

fn layer_plan() -> impl Strategy<Value = LayerPlan> {
    prop_oneof![
        (
            1u8..4,
            1u8..4,
            1u8..3,
            1u8..3,
            0u8..3,
            0u8..3,
            1u16..5,
            any::<bool>()
        )
            .prop_map(|(kh, kw, sh, sw, ph, pw, out, leaky)| LayerPlan::Conv {
                kernel: [kh, kw],
                stride: [sh, sw],
                padding: [ph.min(kh - 1), pw.min(kw - 1)],
                out,
                leaky,
            }),
        (1u16..9, any::<bool>()).prop_map(|(out, leaky)| LayerPlan::Dense { out, leaky }),
    ]
}

fn layer_spec(plan: &LayerPlan, shape: &mut [usize; 3], rng: &mut Xorshift) -> LayerSpec {
    let (kind, in_channels, out, leaky, fan_in) = match *plan {
        LayerPlan::Conv {
            kernel,
            stride,
            padding,
            out,
            leaky,
        } if shape[1] + 2 * usize::from(padding[0]) >= usize::from(kernel[0])
            && shape[2] + 2 * usize::from(padding[1]) >= usize::from(kernel[1]) =>
        {
            let side = |axis: usize| {
                (shape[axis + 1] + 2 * usize::from(padding[axis]) - usize::from(kernel[axis]))
                    / usize::from(stride[axis])
                    + 1
            };
            let fan_in = shape[0] * usize::from(kernel[0]) * usize::from(kernel[1]);
            let in_channels = shape[0];
            *shape = [usize::from(out), side(0), side(1)];
            (
                LayerKind::Conv2d {
                    kernel,
                    stride,
                    padding,
                },
                in_channels,
                out,
                leaky,
                fan_in,
            )
        }
        // A conv whose kernel does not fit the tensor becomes a dense layer.
        LayerPlan::Conv { out, leaky, .. } | LayerPlan::Dense { out, leaky } => {
            let in_features = shape.iter().product::<usize>();
            *shape = [usize::from(out), 1, 1];
            (LayerKind::Dense, in_features, out, leaky, in_features)
        }
    };

    let activation = if leaky {
        Activation::LeakyRelu {
            alpha: rng.below(1001) as f32 / 1000.0,
        }
    } else {
        Activation::None
    };
    let channels = (0..out)
        .map(|_| {
            let positive = rng.requantization();
            let negative = if leaky {
                rng.requantization()
            } else {
                positive
            };
            ChannelParams {
                bias: rng.bias(),
                weight_scale: rng.scale(),
                positive,
                negative,
            }
        })
        .collect();
    LayerSpec {
        kind,
        activation,
        in_channels: in_channels as u16,
        out_channels: out,
        output_scale: rng.scale(),
        output_zero_point: rng.int8(),
        channels,
        weights: (0..usize::from(out) * fan_in).map(|_| rng.int8()).collect(),
    }
}

prop_compose! {
    fn model_spec()(
        input in (1u16..3, 1u16..9, 1u16..9),
        plans in proptest::collection::vec(layer_plan(), 0..4),
        names in proptest::collection::vec("\\PC{0,12}", 2..6),
        extra_rows in 0usize..3,
        threshold in 0.0f32..=1.0,
        seed in 1u64..,
    ) -> ModelSpec {
        let mut rng = Xorshift(seed);
        let mut shape = [usize::from(input.0), usize::from(input.1), usize::from(input.2)];
        let input_len = shape.iter().product::<usize>();
        let layers = plans.iter().map(|plan| layer_spec(plan, &mut shape, &mut rng)).collect();

        let feature_size = shape.iter().product::<usize>();
        let clusters = names.len();
        let rows = clusters - 1 + extra_rows;
        let projection = ProjectionSpec {
            rows: (0..rows)
                .map(|_| ProjectionRow { bias: rng.bias(), score_scale: rng.scale() })
                .collect(),
            weights: (0..rows * feature_size).map(|_| rng.int8()).collect(),
        };
        ModelSpec {
            input_shape: [input.0, input.1, input.2],
            input_scale: rng.scale(),
            uncertain_threshold: threshold,
            layers,
            projection,
            cluster_codes: (0..clusters * (clusters - 1))
                .map(|_| rng.below(2001) as f32 / 1000.0 - 1.0)
                .collect(),
            cluster_names: names,
            prototypes: (0..clusters * input_len).map(|_| rng.next() as u8).collect(),
        }
    }
}

proptest! {
    #[test]
    fn write_read_round_trip(spec in model_spec()) {
        let bytes = spec.to_bytes().expect("generated spec is valid");
        let model = Model::parse(&bytes).expect("written file parses");
        prop_assert_eq!(model.layer_count(), spec.layers.len());
        prop_assert_eq!(model.clusters(), spec.cluster_names.len());
        let read_back = model.to_spec();
        prop_assert_eq!(&read_back, &spec);
        prop_assert_eq!(read_back.to_bytes().expect("read-back spec is valid"), bytes);
    }

    #[test]
    fn parse_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(model) = Model::parse(&bytes) {
            touch_everything(&model);
        }
    }

    #[test]
    fn parse_random_payload_never_panics(
        payload in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        // A valid header with a matching CRC, so the payload parser sees the random bytes.
        let mut bytes = b"GKSC\x01\x00\x00\x00".to_vec();
        bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(&payload);
        fix_crc(&mut bytes);
        if let Ok(model) = Model::parse(&bytes) {
            touch_everything(&model);
        }
    }

    #[test]
    fn parse_mutated_file_never_panics(
        spec in model_spec(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
        keep_crc in any::<bool>(),
    ) {
        let mut bytes = spec.to_bytes().expect("generated spec is valid");
        for (index, value) in edits {
            let at = index.index(bytes.len());
            bytes[at] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        if !keep_crc && bytes.len() >= 16 {
            fix_crc(&mut bytes);
        }
        if let Ok(model) = Model::parse(&bytes) {
            touch_everything(&model);
        }
    }
}

#[test]
fn every_single_byte_flip_of_sample_is_handled() {
    let bytes = sample_spec().to_bytes().unwrap();
    for at in 0..bytes.len() {
        for bit in 0..8 {
            let mut mutated = bytes.clone();
            mutated[at] ^= 1 << bit;
            fix_crc(&mut mutated);
            if let Ok(model) = Model::parse(&mutated) {
                touch_everything(&model);
            }
        }
    }
}
