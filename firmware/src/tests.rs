//! Host tests of the kernels against straightforward `f64` references, and of the engine.

use std::string::ToString;
use std::vec;
use std::vec::Vec;

use model_format::{
    Activation, ChannelParams, LayerKind, LayerSpec, Model, ModelSpec, ProjectionRow,
    ProjectionSpec, Requantization,
};

use crate::membership::{cosine_distance, memberships};
use crate::{
    Assignment, Engine, EngineError, activate, dot, layer_scratch_len, requantize, run_layer,
};

/// Xorshift64: seeded test data without a `rand` dependency.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    fn int8(&mut self) -> i8 {
        self.next() as i8
    }

    fn weight(&mut self) -> i8 {
        ((self.next() % 255) as i16 - 127) as i8
    }
}

/// Round half up, the rounding of `requantize`, on a real number.
fn round_half_up(value: f64) -> f64 {
    (value + 0.5).floor()
}

fn quantize_output(real: f64, scale: f64, zero_point: i8) -> i8 {
    (round_half_up(real / scale) + f64::from(zero_point)).clamp(-128.0, 127.0) as i8
}

/// Exact reference of `requantize` with 128-bit integers.
fn requantize_exact(acc: i32, requantization: Requantization, zero_point: i8) -> i8 {
    let shift = 31 + i32::from(requantization.shift);
    let product = i128::from(acc) * i128::from(requantization.multiplier);
    let rounded = (product + (1i128 << (shift - 1))).div_euclid(1i128 << shift);
    (rounded + i128::from(zero_point)).clamp(-128, 127) as i8
}

// ---------------------------------------------------------------------------------------------
// Requantization

#[test]
fn requantize_half_rounds_up() {
    let half = Requantization {
        multiplier: 1 << 30,
        shift: 0,
    };
    assert_eq!(requantize(3, half, 0), 2); // 1.5
    assert_eq!(requantize(5, half, 0), 3); // 2.5
    assert_eq!(requantize(-3, half, 0), -1); // -1.5
    assert_eq!(requantize(-5, half, 0), -2); // -2.5
    assert_eq!(requantize(-4, half, 0), -2);
}

#[test]
fn requantize_adds_zero_point() {
    let half = Requantization {
        multiplier: 1 << 30,
        shift: 0,
    };
    assert_eq!(requantize(10, half, -20), -15);
    assert_eq!(requantize(-10, half, 20), 15);
}

#[test]
fn requantize_saturates() {
    let one = Requantization::from_real(1.0).unwrap();
    assert_eq!(requantize(127, one, 0), 127);
    assert_eq!(requantize(128, one, 0), 127);
    assert_eq!(requantize(i32::MAX, one, 0), 127);
    assert_eq!(requantize(-128, one, 0), -128);
    assert_eq!(requantize(-129, one, 0), -128);
    assert_eq!(requantize(i32::MIN, one, 0), -128);
    assert_eq!(requantize(100, one, 100), 127);
    assert_eq!(requantize(-100, one, -100), -128);
}

#[test]
fn requantize_matches_exact_reference_at_extremes() {
    let accs = [
        i32::MIN,
        i32::MIN + 1,
        -(1 << 30),
        -257,
        -1,
        0,
        1,
        255,
        1 << 30,
        i32::MAX,
    ];
    let multipliers = [0, 1, 1 << 30, (1 << 30) + 1, i32::MAX - 1, i32::MAX];
    for shift in -30..=31 {
        for multiplier in multipliers {
            let requantization = Requantization { multiplier, shift };
            for acc in accs {
                for zero_point in [-128, -1, 0, 1, 127] {
                    assert_eq!(
                        requantize(acc, requantization, zero_point),
                        requantize_exact(acc, requantization, zero_point),
                        "acc {acc}, multiplier {multiplier}, shift {shift}, zero point {zero_point}"
                    );
                }
            }
        }
    }
}

#[test]
fn requantize_shift_zero() {
    // M = (2^31 - 1) / 2^31, just below 1.
    let almost_one = Requantization {
        multiplier: i32::MAX,
        shift: 0,
    };
    assert_eq!(requantize(100, almost_one, 0), 100);
    assert_eq!(requantize(-100, almost_one, 0), -100);
}

#[test]
fn requantize_shift_31() {
    // M = m / 2^62: even the largest accumulator maps to at most 1.
    let tiny = Requantization {
        multiplier: i32::MAX,
        shift: 31,
    };
    assert_eq!(requantize(i32::MAX, tiny, 0), 1);
    assert_eq!(requantize(1 << 30, tiny, 0), 0);
    let quarter = Requantization {
        multiplier: 1 << 30,
        shift: 31,
    };
    // i32::MIN * 2^30 / 2^62 = -0.5, which rounds half up to 0.
    assert_eq!(requantize(i32::MIN, quarter, 0), 0);
}

#[test]
fn requantize_negative_shift() {
    let large = Requantization {
        multiplier: 1 << 30,
        shift: -30,
    }; // M = 2^29
    assert_eq!(requantize(1, large, 0), 127);
    assert_eq!(requantize(-1, large, 0), -128);
    assert_eq!(requantize(0, large, 5), 5);
}

#[test]
fn requantize_zero_multiplier() {
    assert_eq!(requantize(i32::MAX, Requantization::ZERO, -7), -7);
    assert_eq!(requantize(i32::MIN, Requantization::ZERO, 9), 9);
}

#[test]
fn requantize_matches_exact_reference() {
    let mut rng = Xorshift(0x5EED_0001);
    for _ in 0..20_000 {
        let requantization = Requantization {
            multiplier: (1 << 30) + (rng.next() % (1 << 30)) as i32,
            shift: (rng.next() % 62) as i8 - 30,
        };
        let acc = match rng.next() % 3 {
            0 => rng.next() as i32,
            1 => (rng.next() % 20_001) as i32 - 10_000,
            _ => (rng.next() % 201) as i32 - 100,
        };
        let zero_point = rng.int8();
        let expected = requantize_exact(acc, requantization, zero_point);
        assert_eq!(
            requantize(acc, requantization, zero_point),
            expected,
            "acc {acc}"
        );
    }
}

#[test]
fn from_real_round_trips_multiplier() {
    for real in [0.5, 0.75, 0.999_999, 1.0, 3.5, 1e-3, 1e-9, 123.456] {
        let requantization = Requantization::from_real(real).unwrap();
        let relative = (requantization.to_real() - real).abs() / real;
        assert!(relative < 1e-9, "{real}: {requantization:?}");
        assert!(
            requantization.multiplier >= 1 << 30,
            "{real}: {requantization:?}"
        );
    }
}

#[test]
fn from_real_edge_cases() {
    assert_eq!(
        Requantization::from_real(0.5),
        Some(Requantization {
            multiplier: 1 << 30,
            shift: 0
        })
    );
    assert_eq!(
        Requantization::from_real(1.0),
        Some(Requantization {
            multiplier: 1 << 30,
            shift: -1
        })
    );
    // Rounds up to 2^31 and renormalises to 2^30 with one shift less.
    let just_below_one = 1.0 - 2f64.powi(-40);
    assert_eq!(
        Requantization::from_real(just_below_one),
        Some(Requantization {
            multiplier: 1 << 30,
            shift: -1
        })
    );
    assert_eq!(Requantization::from_real(0.0), Some(Requantization::ZERO));
    assert_eq!(Requantization::from_real(1e-12), Some(Requantization::ZERO));
    assert_eq!(Requantization::from_real(-0.1), None);
    assert_eq!(Requantization::from_real(f64::NAN), None);
    assert_eq!(Requantization::from_real(2f64.powi(30)), None);
}

// ---------------------------------------------------------------------------------------------
// LeakyReLU

#[test]
fn leaky_relu_integer_form() {
    let multiplier = 0.0123;
    let alpha = 0.2;
    let channel = ChannelParams {
        bias: 0,
        weight_scale: 1.0,
        positive: Requantization::from_real(multiplier).unwrap(),
        negative: Requantization::from_real(alpha * multiplier).unwrap(),
    };
    let zero_point = -20;
    let mut rng = Xorshift(0x5EED_0002);
    let mut exact = 0;
    let trials = 10_000;
    for _ in 0..trials {
        let acc = (rng.next() % 40_001) as i32 - 20_000;
        let real = if acc < 0 {
            alpha * f64::from(acc)
        } else {
            f64::from(acc)
        } * multiplier;
        let expected = (round_half_up(real) + f64::from(zero_point)).clamp(-128.0, 127.0);
        let actual = activate(acc, &channel, zero_point);
        assert!((f64::from(actual) - expected).abs() <= 1.0, "acc {acc}");
        exact += usize::from(f64::from(actual) == expected);
        if acc < 0 {
            assert!(actual <= zero_point, "acc {acc}");
        } else {
            assert!(actual >= zero_point, "acc {acc}");
        }
    }
    // Only the rounding of the Q31 multipliers can move a result, and rarely.
    assert!(exact * 1000 >= trials * 999, "{exact} of {trials} exact");
}

#[test]
fn leaky_relu_uses_negative_multiplier_only_below_zero() {
    let channel = ChannelParams {
        bias: 0,
        weight_scale: 1.0,
        positive: Requantization::from_real(1.0).unwrap(),
        negative: Requantization::from_real(0.25).unwrap(),
    };
    assert_eq!(activate(0, &channel, 0), 0);
    assert_eq!(activate(40, &channel, 0), 40);
    assert_eq!(activate(-40, &channel, 0), -10);
    assert_eq!(activate(-2, &channel, 0), 0); // -0.5 rounds half up
    assert_eq!(activate(-3, &channel, 0), -1); // -0.75
}

// ---------------------------------------------------------------------------------------------
// Dot product

#[test]
fn dot_matches_naive_sum_for_every_tail_length() {
    let mut rng = Xorshift(0x5EED_0003);
    for len in 0..40 {
        let weights: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let inputs: Vec<i8> = (0..len).map(|_| rng.int8()).collect();
        let naive: i32 = weights
            .iter()
            .zip(&inputs)
            .map(|(&w, &x)| i32::from(w as i8) * i32::from(x))
            .sum();
        assert_eq!(dot(&weights, &inputs), naive, "len {len}");
    }
}

#[test]
fn dot_uses_common_length() {
    let weights = [1u8, 2, 3, 4, 5, 6];
    let inputs = [1i8, 1, 1, 1, 1];
    assert_eq!(dot(&weights, &inputs), 15);
    assert_eq!(dot(&weights[..2], &inputs), 3);
}

#[test]
fn dot_extreme_values() {
    let weights = [0x80u8; 64]; // -128
    let inputs = [-128i8; 64];
    assert_eq!(dot(&weights, &inputs), 64 * 128 * 128);
}

// ---------------------------------------------------------------------------------------------
// Layers against f64 references

/// A layer's real parameters, and how the test quantizes them.
struct RealLayer {
    kind: LayerKind,
    alpha: Option<f64>,
    in_channels: usize,
    out_channels: usize,
    fan_in: usize,
    weights: Vec<i8>,
    weight_scales: Vec<f64>,
    biases: Vec<f64>,
    input_scale: f64,
    input_zero_point: i8,
    output_scale: f64,
    output_zero_point: i8,
}

impl RealLayer {
    fn random(
        kind: LayerKind,
        in_channels: usize,
        out_channels: usize,
        fan_in: usize,
        alpha: Option<f64>,
        rng: &mut Xorshift,
    ) -> Self {
        RealLayer {
            kind,
            alpha,
            in_channels,
            out_channels,
            fan_in,
            weights: (0..out_channels * fan_in).map(|_| rng.weight()).collect(),
            weight_scales: (0..out_channels)
                .map(|_| rng.uniform(0.002, 0.02))
                .collect(),
            biases: (0..out_channels).map(|_| rng.uniform(-0.5, 0.5)).collect(),
            input_scale: rng.uniform(0.01, 0.05),
            input_zero_point: (rng.next() % 200) as i8,
            output_scale: rng.uniform(0.02, 0.1),
            output_zero_point: rng.int8() / 4,
        }
    }

    fn spec(&self) -> LayerSpec {
        let channels = (0..self.out_channels)
            .map(|c| {
                let row = &self.weights[c * self.fan_in..(c + 1) * self.fan_in];
                let weight_sum: i64 = row.iter().map(|&w| i64::from(w)).sum();
                let accumulator_scale = self.input_scale * self.weight_scales[c];
                let bias = round_half_up(self.biases[c] / accumulator_scale) as i64
                    - i64::from(self.input_zero_point) * weight_sum;
                let multiplier = accumulator_scale / self.output_scale;
                let positive = Requantization::from_real(multiplier).unwrap();
                let negative = match self.alpha {
                    Some(alpha) => Requantization::from_real(alpha * multiplier).unwrap(),
                    None => positive,
                };
                ChannelParams {
                    bias: bias as i32,
                    weight_scale: self.weight_scales[c] as f32,
                    positive,
                    negative,
                }
            })
            .collect();
        LayerSpec {
            kind: self.kind,
            activation: match self.alpha {
                Some(alpha) => Activation::LeakyRelu {
                    alpha: alpha as f32,
                },
                None => Activation::None,
            },
            in_channels: self.in_channels as u16,
            out_channels: self.out_channels as u16,
            output_scale: self.output_scale as f32,
            output_zero_point: self.output_zero_point,
            channels,
            weights: self.weights.clone(),
        }
    }

    fn activation(&self, real: f64) -> f64 {
        match self.alpha {
            Some(alpha) if real < 0.0 => alpha * real,
            _ => real,
        }
    }

    fn dequantize_input(&self, value: i8) -> f64 {
        self.input_scale * f64::from(i16::from(value) - i16::from(self.input_zero_point))
    }

    fn weight(&self, c: usize, index: usize) -> f64 {
        self.weight_scales[c] * f64::from(self.weights[c * self.fan_in + index])
    }
}

/// Wraps one layer into a minimal model with a 1-row projection and 2 clusters. The layer is
/// the first one, so it reads the model input: its input scale becomes the model's input scale,
/// and its input zero point must be -128.
fn single_layer_model(layer: &RealLayer, input_shape: [u16; 3], output_len: usize) -> Vec<u8> {
    let spec = ModelSpec {
        input_shape,
        input_scale: layer.input_scale as f32,
        uncertain_threshold: 0.5,
        layers: vec![layer.spec()],
        projection: ProjectionSpec {
            rows: vec![ProjectionRow {
                bias: 0,
                score_scale: 1.0,
            }],
            weights: vec![1; output_len],
        },
        cluster_codes: vec![1.0, -1.0],
        cluster_names: vec!["a".to_string(), "b".to_string()],
        prototypes: vec![
            0;
            2 * input_shape
                .iter()
                .map(|&side| usize::from(side))
                .product::<usize>()
        ],
    };
    spec.to_bytes().unwrap()
}

fn reference_conv(
    layer: &RealLayer,
    input: &[i8],
    shape: [usize; 3],
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
) -> (Vec<i8>, [usize; 2]) {
    let [channels, height, width] = shape;
    let out_h = (height + 2 * padding[0] - kernel[0]) / stride[0] + 1;
    let out_w = (width + 2 * padding[1] - kernel[1]) / stride[1] + 1;
    let mut output = vec![0i8; layer.out_channels * out_h * out_w];
    for c in 0..layer.out_channels {
        for oy in 0..out_h {
            for ox in 0..out_w {
                let mut sum = layer.biases[c];
                for ci in 0..channels {
                    for ky in 0..kernel[0] {
                        for kx in 0..kernel[1] {
                            let y = (oy * stride[0] + ky) as isize - padding[0] as isize;
                            let x = (ox * stride[1] + kx) as isize - padding[1] as isize;
                            if y < 0 || x < 0 || y >= height as isize || x >= width as isize {
                                continue;
                            }
                            let value = input[(ci * height + y as usize) * width + x as usize];
                            let index = (ci * kernel[0] + ky) * kernel[1] + kx;
                            sum += layer.dequantize_input(value) * layer.weight(c, index);
                        }
                    }
                }
                let real = layer.activation(sum);
                output[(c * out_h + oy) * out_w + ox] =
                    quantize_output(real, layer.output_scale, layer.output_zero_point);
            }
        }
    }
    (output, [out_h, out_w])
}

fn assert_within_one_step(actual: &[i8], expected: &[i8], context: &str) {
    assert_eq!(actual.len(), expected.len(), "{context}: length");
    for (index, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let difference = (i16::from(a) - i16::from(e)).abs();
        assert!(
            difference <= 1,
            "{context}: element {index} is {a}, reference {e}"
        );
    }
}

/// One convolution test case: input `[c, h, w]`, output channels, kernel, stride, padding and
/// the LeakyReLU slope.
struct ConvCase {
    shape: [usize; 3],
    out_channels: usize,
    kernel: [u8; 2],
    stride: [u8; 2],
    padding: [u8; 2],
    alpha: Option<f64>,
}

#[test]
fn conv2d_matches_f64_reference() {
    let case = |shape, out_channels, kernel, stride, padding, alpha| ConvCase {
        shape,
        out_channels,
        kernel,
        stride,
        padding,
        alpha,
    };
    let cases = [
        case([1, 6, 6], 2, [3, 3], [1, 1], [1, 1], None),
        case([2, 7, 5], 3, [4, 4], [2, 2], [1, 1], Some(0.2)),
        case([3, 5, 6], 4, [3, 2], [2, 1], [0, 1], Some(0.1)),
        case([1, 28, 28], 4, [4, 4], [2, 2], [1, 1], Some(0.2)),
        case([4, 4, 4], 2, [3, 3], [2, 2], [1, 1], None),
    ];
    let mut rng = Xorshift(0x5EED_0004);
    for (index, case) in cases.iter().enumerate() {
        let ConvCase {
            shape,
            out_channels,
            kernel,
            stride,
            padding,
            alpha,
        } = *case;
        let fan_in = shape[0] * usize::from(kernel[0]) * usize::from(kernel[1]);
        let kind = LayerKind::Conv2d {
            kernel,
            stride,
            padding,
        };
        let mut layer = RealLayer::random(kind, shape[0], out_channels, fan_in, alpha, &mut rng);
        // A first layer reads the model input, whose zero point is -128.
        layer.input_zero_point = -128;

        let input: Vec<i8> = (0..shape.iter().product::<usize>())
            .map(|_| rng.int8())
            .collect();
        let (expected, [out_h, out_w]) = reference_conv(
            &layer,
            &input,
            shape,
            kernel.map(usize::from),
            stride.map(usize::from),
            padding.map(usize::from),
        );

        let shape16 = shape.map(|side| side as u16);
        let bytes = single_layer_model(&layer, shape16, out_channels * out_h * out_w);
        let model = Model::parse(&bytes).unwrap();
        let parsed = model.layers().next().unwrap();
        let mut scratch = vec![0i8; layer_scratch_len(&parsed)];
        let mut output = vec![0i8; expected.len()];
        run_layer(&parsed, &input, &mut scratch, &mut output).unwrap();
        assert_within_one_step(&output, &expected, &std::format!("conv case {index}"));
    }
}

#[test]
fn dense_matches_f64_reference() {
    let mut rng = Xorshift(0x5EED_0005);
    for (case, (in_features, out_features, alpha)) in
        [(10, 4, None), (33, 7, Some(0.2)), (64, 16, Some(0.01))]
            .into_iter()
            .enumerate()
    {
        let mut layer = RealLayer::random(
            LayerKind::Dense,
            in_features,
            out_features,
            in_features,
            alpha,
            &mut rng,
        );
        layer.input_zero_point = -128;
        let input: Vec<i8> = (0..in_features).map(|_| rng.int8()).collect();
        let expected: Vec<i8> = (0..out_features)
            .map(|c| {
                let sum = layer.biases[c]
                    + (0..in_features)
                        .map(|i| layer.dequantize_input(input[i]) * layer.weight(c, i))
                        .sum::<f64>();
                quantize_output(
                    layer.activation(sum),
                    layer.output_scale,
                    layer.output_zero_point,
                )
            })
            .collect();

        let bytes = single_layer_model(&layer, [1, 1, in_features as u16], out_features);
        let model = Model::parse(&bytes).unwrap();
        let parsed = model.layers().next().unwrap();
        let mut scratch = vec![0i8; layer_scratch_len(&parsed)];
        let mut output = vec![0i8; out_features];
        run_layer(&parsed, &input, &mut scratch, &mut output).unwrap();
        assert_within_one_step(&output, &expected, &std::format!("dense case {case}"));
    }
}

#[test]
fn kernels_reject_short_buffers() {
    let mut rng = Xorshift(0x5EED_0006);
    let kind = LayerKind::Conv2d {
        kernel: [3, 3],
        stride: [1, 1],
        padding: [1, 1],
    };
    let mut layer = RealLayer::random(kind, 1, 2, 9, None, &mut rng);
    layer.input_zero_point = -128;
    let bytes = single_layer_model(&layer, [1, 4, 4], 32);
    let model = Model::parse(&bytes).unwrap();
    let parsed = model.layers().next().unwrap();

    let input = [0i8; 16];
    let needed = layer_scratch_len(&parsed);
    let mut scratch = vec![0i8; needed];
    let mut output = [0i8; 32];
    let short_input = run_layer(&parsed, &input[..15], &mut scratch, &mut output);
    assert_eq!(
        short_input,
        Err(EngineError::BufferTooSmall {
            needed: 16,
            available: 15
        })
    );
    let short_scratch = run_layer(&parsed, &input, &mut scratch[..needed - 1], &mut output);
    assert_eq!(
        short_scratch,
        Err(EngineError::BufferTooSmall {
            needed,
            available: needed - 1
        })
    );
    let short_output = run_layer(&parsed, &input, &mut scratch, &mut output[..31]);
    assert_eq!(
        short_output,
        Err(EngineError::BufferTooSmall {
            needed: 32,
            available: 31
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Layers against exact integer references

/// Requantization shifts the tests draw from: the range of the fast form (2..=24) and both
/// sides of it, where the kernels fall back to `activate`.
const TEST_SHIFTS: [i8; 14] = [-30, -3, 0, 1, 2, 3, 7, 9, 12, 20, 24, 25, 28, 31];

fn random_requantization(rng: &mut Xorshift, shifts: &[i8]) -> Requantization {
    let multiplier = match rng.next() % 8 {
        0 => 0,
        1 => i32::MAX,
        _ => (1 << 30) + (rng.next() % (1 << 30)) as i32,
    };
    let shift = shifts[(rng.next() % shifts.len() as u64) as usize];
    Requantization { multiplier, shift }
}

/// Builds a layer with random integer parameters: any weights, biases, multipliers and shifts
/// the format accepts, not only those a quantizer would write.
fn random_layer_spec(
    kind: LayerKind,
    in_channels: usize,
    out_channels: usize,
    fan_in: usize,
    shifts: &[i8],
    rng: &mut Xorshift,
) -> LayerSpec {
    let leaky = rng.next().is_multiple_of(2);
    let channels = (0..out_channels)
        .map(|_| {
            let positive = random_requantization(rng, shifts);
            ChannelParams {
                bias: (rng.next() % (1 << 21)) as i32 - (1 << 20),
                weight_scale: 0.01,
                positive,
                negative: if leaky {
                    random_requantization(rng, shifts)
                } else {
                    positive
                },
            }
        })
        .collect();
    LayerSpec {
        kind,
        activation: if leaky {
            Activation::LeakyRelu { alpha: 0.2 }
        } else {
            Activation::None
        },
        in_channels: in_channels as u16,
        out_channels: out_channels as u16,
        output_scale: 0.05,
        output_zero_point: rng.int8(),
        channels,
        weights: (0..out_channels * fan_in).map(|_| rng.int8()).collect(),
    }
}

/// Builds a model whose second layer is `layer` and returns its bytes. The first layer, a 1x1
/// convolution from one channel to `shape[0]`, only sets the input zero point of `layer`,
/// which is the first layer's output zero point `input_zero_point`.
fn model_with_second_layer(shape: [usize; 3], input_zero_point: i8, layer: LayerSpec) -> Vec<u8> {
    let [channels, height, width] = shape;
    let output_len = match layer.kind {
        LayerKind::Dense => usize::from(layer.out_channels),
        LayerKind::Conv2d {
            kernel,
            stride,
            padding,
        } => {
            let side = |input: usize, axis: usize| {
                (input + 2 * usize::from(padding[axis]) - usize::from(kernel[axis]))
                    / usize::from(stride[axis])
                    + 1
            };
            usize::from(layer.out_channels) * side(height, 0) * side(width, 1)
        }
    };
    let mut rng = Xorshift(0x5EED_1000);
    let mut first = random_layer_spec(
        LayerKind::Conv2d {
            kernel: [1, 1],
            stride: [1, 1],
            padding: [0, 0],
        },
        1,
        channels,
        1,
        &[8],
        &mut rng,
    );
    first.output_zero_point = input_zero_point;
    let spec = ModelSpec {
        input_shape: [1, height as u16, width as u16],
        input_scale: 1.0 / 255.0,
        uncertain_threshold: 0.5,
        layers: vec![first, layer],
        projection: ProjectionSpec {
            rows: vec![ProjectionRow {
                bias: 0,
                score_scale: 1.0,
            }],
            weights: vec![1; output_len],
        },
        cluster_codes: vec![1.0, -1.0],
        cluster_names: vec!["a".to_string(), "b".to_string()],
        prototypes: vec![0; 2 * height * width],
    };
    spec.to_bytes().unwrap()
}

/// Computes a layer by its straightforward integer definition: for each output, the bias plus
/// the products of the weights with the inputs (the input zero point inside the padding of a
/// convolution), then `activate`.
fn reference_layer(layer: &model_format::Layer<'_>, input: &[i8]) -> Vec<i8> {
    let zero_point = layer.input_zero_point;
    let [channels, height, width] = [
        layer.input_shape.channels,
        layer.input_shape.height,
        layer.input_shape.width,
    ];
    let out = layer.output_shape;
    let mut output = Vec::with_capacity(out.len());
    for (params, weights) in layer.channels().zip(layer.weight_rows()) {
        let weight = |index: usize| i32::from(weights[index] as i8);
        match layer.kind {
            LayerKind::Dense => {
                let products = input
                    .iter()
                    .enumerate()
                    .map(|(i, &x)| weight(i) * i32::from(x));
                let acc = products.fold(params.bias, i32::wrapping_add);
                output.push(activate(acc, &params, layer.output_zero_point));
            }
            LayerKind::Conv2d {
                kernel,
                stride,
                padding,
            } => {
                let [kernel_h, kernel_w] = kernel.map(usize::from);
                let [stride_y, stride_x] = stride.map(usize::from);
                let [padding_y, padding_x] = padding.map(isize::from);
                for out_y in 0..out.height {
                    for out_x in 0..out.width {
                        let mut acc = params.bias;
                        for c in 0..channels {
                            for ky in 0..kernel_h {
                                for kx in 0..kernel_w {
                                    let y = (out_y * stride_y + ky) as isize - padding_y;
                                    let x = (out_x * stride_x + kx) as isize - padding_x;
                                    let inside = (0..height as isize).contains(&y)
                                        && (0..width as isize).contains(&x);
                                    let value = if inside {
                                        input[(c * height + y as usize) * width + x as usize]
                                    } else {
                                        zero_point
                                    };
                                    let index = (c * kernel_h + ky) * kernel_w + kx;
                                    acc = acc.wrapping_add(weight(index) * i32::from(value));
                                }
                            }
                        }
                        output.push(activate(acc, &params, layer.output_zero_point));
                    }
                }
            }
        }
    }
    output
}

/// Runs the second layer of `bytes` with `run_layer`, with the scratch buffer starting at
/// `offset` bytes into an allocation, and compares it with `reference_layer`.
fn check_second_layer(bytes: &[u8], rng: &mut Xorshift, offset: usize, context: &str) {
    let model = Model::parse(bytes).unwrap();
    let layer = model.layers().nth(1).unwrap();
    let input: Vec<i8> = (0..layer.input_shape.len()).map(|_| rng.int8()).collect();
    let expected = reference_layer(&layer, &input);

    let mut scratch = vec![0x55i8; offset + layer_scratch_len(&layer)];
    let mut output = vec![0i8; layer.output_shape.len()];
    run_layer(&layer, &input, &mut scratch[offset..], &mut output).unwrap();
    assert_eq!(output, expected, "{context}");
}

/// One convolution shape: input `[c, h, w]`, output channels, kernel, stride and padding.
type ConvShape = ([usize; 3], usize, [u8; 2], [u8; 2], [u8; 2]);

#[test]
fn conv2d_matches_integer_reference() {
    let shapes: [ConvShape; 10] = [
        // The MNIST012 encoder's convolutions.
        ([1, 28, 28], 16, [4, 4], [2, 2], [1, 1]),
        ([16, 14, 14], 32, [4, 4], [2, 2], [1, 1]),
        ([32, 7, 7], 64, [3, 3], [2, 2], [1, 1]),
        // Odd channel and position counts, kernels 3 and 4 wide, with and without padding.
        ([3, 7, 5], 5, [3, 3], [1, 1], [1, 1]),
        ([5, 9, 9], 3, [4, 4], [2, 2], [0, 0]),
        ([2, 6, 7], 1, [4, 3], [1, 2], [3, 2]),
        // Other widths: one value per row, two, and rows longer than a word.
        ([4, 5, 6], 3, [1, 1], [1, 1], [0, 0]),
        ([3, 8, 8], 2, [2, 2], [2, 2], [1, 1]),
        ([2, 9, 11], 3, [3, 5], [2, 1], [1, 2]),
        ([1, 12, 12], 2, [2, 9], [3, 3], [0, 4]),
    ];
    let mut rng = Xorshift(0x5EED_1001);
    for (index, &(shape, out_channels, kernel, stride, padding)) in shapes.iter().enumerate() {
        let fan_in = shape[0] * usize::from(kernel[0]) * usize::from(kernel[1]);
        let kind = LayerKind::Conv2d {
            kernel,
            stride,
            padding,
        };
        for trial in 0..3 {
            let layer =
                random_layer_spec(kind, shape[0], out_channels, fan_in, &TEST_SHIFTS, &mut rng);
            let bytes = model_with_second_layer(shape, rng.int8(), layer);
            let context = std::format!("conv shape {index}, trial {trial}");
            check_second_layer(&bytes, &mut rng, trial, &context);
        }
    }
}

#[test]
fn conv2d_matches_reference_on_random_shapes() {
    let mut rng = Xorshift(0x5EED_1002);
    let mut pick = |values: &[usize]| values[(rng.next() % values.len() as u64) as usize];
    let mut shapes = Vec::new();
    for _ in 0..60 {
        let kernel = [pick(&[1, 2, 3, 4, 5]), pick(&[1, 2, 3, 4, 5])];
        let padding = [pick(&[0, 1, 2]) % kernel[0], pick(&[0, 1, 2]) % kernel[1]];
        let shape = [
            pick(&[1, 2, 3, 5, 8]),
            kernel[0] + pick(&[0, 1, 2, 5, 9]),
            kernel[1] + pick(&[0, 1, 3, 6, 10]),
        ];
        let stride = [pick(&[1, 2, 3]), pick(&[1, 2, 3])];
        shapes.push((shape, pick(&[1, 2, 3, 4, 7]), kernel, stride, padding));
    }
    let mut rng = Xorshift(0x5EED_1003);
    for (index, (shape, out_channels, kernel, stride, padding)) in shapes.into_iter().enumerate() {
        let kernel = kernel.map(|side| side as u8);
        let fan_in = shape[0] * usize::from(kernel[0]) * usize::from(kernel[1]);
        let kind = LayerKind::Conv2d {
            kernel,
            stride: stride.map(|side| side as u8),
            padding: padding.map(|side| side as u8),
        };
        let layer = random_layer_spec(kind, shape[0], out_channels, fan_in, &TEST_SHIFTS, &mut rng);
        let bytes = model_with_second_layer(shape, rng.int8(), layer);
        let context = std::format!("random conv {index}: {shape:?} -> {out_channels}, {kind:?}");
        check_second_layer(&bytes, &mut rng, index % 4, &context);
    }
}

#[test]
fn conv2d_spans_several_patch_blocks() {
    // A fan-in of 40 * 16 = 640 takes 1,280 bytes of patches per position, so the 49
    // positions need several blocks of `PATCH_BLOCK_BYTES`.
    let kind = LayerKind::Conv2d {
        kernel: [4, 4],
        stride: [2, 2],
        padding: [1, 1],
    };
    let positions_per_block = crate::conv::PATCH_BLOCK_BYTES / (2 * 640);
    assert!(positions_per_block < 49);
    let mut rng = Xorshift(0x5EED_1004);
    let layer = random_layer_spec(kind, 40, 5, 640, &[6, 9], &mut rng);
    let bytes = model_with_second_layer([40, 14, 14], -3, layer);
    check_second_layer(&bytes, &mut rng, 1, "several blocks");
}

#[test]
fn dense_matches_integer_reference() {
    let mut rng = Xorshift(0x5EED_1005);
    let shapes = [
        [1, 1, 1],
        [1, 1, 5],
        [3, 2, 2],
        [1, 1, 16],
        [2, 3, 5],
        [1, 1, 33],
        [64, 4, 4],
    ];
    for (index, shape) in shapes.into_iter().enumerate() {
        let in_features = shape.iter().product();
        for out_features in [1, 2, 3, 8] {
            let layer = random_layer_spec(
                LayerKind::Dense,
                in_features,
                out_features,
                in_features,
                &TEST_SHIFTS,
                &mut rng,
            );
            let bytes = model_with_second_layer(shape, rng.int8(), layer);
            let context = std::format!("dense {index}: {in_features} -> {out_features}");
            check_second_layer(&bytes, &mut rng, out_features % 4, &context);
        }
    }
}

#[test]
fn output_stage_matches_activate() {
    let mut rng = Xorshift(0x5EED_1006);
    let accs = [
        i32::MIN,
        i32::MIN + 1,
        -(1 << 30),
        -65_537,
        -1,
        0,
        1,
        65_535,
        1 << 30,
        i32::MAX,
    ];
    for shift in -30..=31 {
        for _ in 0..40 {
            let mut positive = random_requantization(&mut rng, &[shift]);
            let negative = random_requantization(&mut rng, &[shift, 31 - shift.clamp(0, 31)]);
            if rng.next().is_multiple_of(8) {
                positive.multiplier = 1 << 30;
            }
            let channel = ChannelParams {
                bias: 0,
                weight_scale: 1.0,
                positive,
                negative,
            };
            let zero_point = rng.int8();
            let stage = crate::kernels::OutputStage::new(&channel, zero_point);
            let random_accs = (0..20).map(|_| match rng.next() % 3 {
                0 => rng.next() as i32,
                1 => (rng.next() % 200_001) as i32 - 100_000,
                _ => (rng.next() % 2_001) as i32 - 1_000,
            });
            for acc in accs.into_iter().chain(random_accs.collect::<Vec<_>>()) {
                assert_eq!(
                    stage.apply(acc),
                    activate(acc, &channel, zero_point),
                    "acc {acc}, {channel:?}, zero point {zero_point}"
                );
            }
        }
    }
}

#[test]
fn widen_splits_even_and_odd_values() {
    let word = u32::from_le_bytes([0x01, 0xff, 0x80, 0x7f]);
    let [even, odd] = crate::simd::widen(word);
    // Even: values 1 and -128; odd: values -1 and 127, each as an i16 lane.
    assert_eq!(even, 0xff80_0001);
    assert_eq!(odd, 0x007f_ffff);
}

#[test]
fn dot_2x2_matches_naive_sums() {
    let mut rng = Xorshift(0x5EED_1007);
    for groups in [0, 1, 3, 4, 5, 8, 17] {
        let rows: Vec<Vec<i8>> = (0..4)
            .map(|_| (0..4 * groups).map(|_| rng.int8()).collect())
            .collect();
        let interleave = |a: &[i8], b: &[i8]| -> Vec<u32> {
            let word = |values: &[i8]| u32::from_le_bytes([0, 1, 2, 3].map(|i| values[i] as u8));
            (0..groups)
                .flat_map(|g| {
                    let [a_even, a_odd] = crate::simd::widen(word(&a[4 * g..]));
                    let [b_even, b_odd] = crate::simd::widen(word(&b[4 * g..]));
                    [a_even, b_even, a_odd, b_odd]
                })
                .collect()
        };
        let weights = interleave(&rows[0], &rows[1]);
        let patches = interleave(&rows[2], &rows[3]);
        let naive = |w: &[i8], x: &[i8]| -> i32 {
            w.iter()
                .zip(x)
                .map(|(&w, &x)| i32::from(w) * i32::from(x))
                .sum()
        };
        let bias = [5, -7, 1 << 20, -(1 << 20)];
        let expected = [
            bias[0] + naive(&rows[0], &rows[2]),
            bias[1] + naive(&rows[0], &rows[3]),
            bias[2] + naive(&rows[1], &rows[2]),
            bias[3] + naive(&rows[1], &rows[3]),
        ];
        assert_eq!(
            crate::simd::dot_2x2(&weights, &patches, bias),
            expected,
            "{groups} groups"
        );
    }
}

#[test]
fn dot_rows_matches_naive_sums() {
    let mut rng = Xorshift(0x5EED_1008);
    for len in [0usize, 1, 3, 4, 5, 15, 16, 17, 31, 32, 33, 64, 100] {
        let rows: Vec<Vec<u8>> = (0..2)
            .map(|_| (0..len).map(|_| rng.next() as u8).collect())
            .collect();
        let inputs: Vec<i8> = (0..len).map(|_| rng.int8()).collect();
        let mut widened = vec![0u32; 2 * len.div_ceil(4)];
        crate::simd::widen_row(&inputs, &mut widened);
        let naive = |row: &[u8]| -> i32 {
            row.iter()
                .zip(&inputs)
                .map(|(&w, &x)| i32::from(w as i8) * i32::from(x))
                .sum()
        };
        let acc = crate::simd::dot_rows([&rows[0], &rows[1]], &widened, [3, -3]);
        assert_eq!(
            acc,
            [3 + naive(&rows[0]), -3 + naive(&rows[1])],
            "length {len}"
        );
    }
}

/// Builds a model with the layer shapes of an encoder (`(kind, in, out, fan_in)` per layer)
/// on 28x28 images, random parameters and a one-row projection.
fn encoder_model(layers: &[(LayerKind, usize, usize, usize)], feature_size: usize) -> Vec<u8> {
    let mut rng = Xorshift(0x5EED_1009);
    let layers = layers
        .iter()
        .map(|&(kind, in_channels, out_channels, fan_in)| {
            random_layer_spec(kind, in_channels, out_channels, fan_in, &[9], &mut rng)
        })
        .collect();
    let spec = ModelSpec {
        input_shape: [1, 28, 28],
        input_scale: 1.0 / 255.0,
        uncertain_threshold: 0.5,
        layers,
        projection: ProjectionSpec {
            rows: vec![ProjectionRow {
                bias: 0,
                score_scale: 1.0,
            }],
            weights: vec![1; feature_size],
        },
        cluster_codes: vec![1.0, -1.0],
        cluster_names: vec!["a".to_string(), "b".to_string()],
        prototypes: vec![0; 2 * 28 * 28],
    };
    spec.to_bytes().unwrap()
}

#[test]
fn scratch_len_of_the_two_encoders() {
    let conv = |kernel: u8, padding: u8| LayerKind::Conv2d {
        kernel: [kernel; 2],
        stride: [2, 2],
        padding: [padding; 2],
    };
    // The MNIST012 encoder: 28x28 -> 16x14x14 -> 32x7x7 -> 64x4x4 -> 64 features.
    let mnist012 = encoder_model(
        &[
            (conv(4, 1), 1, 16, 16),
            (conv(4, 1), 16, 32, 256),
            (conv(3, 1), 32, 64, 288),
            (LayerKind::Dense, 1024, 64, 1024),
        ],
        64,
    );
    let engine = Engine::new(Model::parse(&mnist012).unwrap());
    assert_eq!(engine.scratch_len(), 17_478);

    // The FashionMNIST (ClusterGAN) encoder: 28x28 -> 64x13x13 -> 128x5x5 -> 1024 -> 128.
    let fashion_mnist = encoder_model(
        &[
            (conv(4, 0), 1, 64, 16),
            (conv(4, 0), 64, 128, 1024),
            (LayerKind::Dense, 3200, 1024, 3200),
            (LayerKind::Dense, 1024, 128, 1024),
        ],
        128,
    );
    let engine = Engine::new(Model::parse(&fashion_mnist).unwrap());
    assert_eq!(engine.scratch_len(), 33_926);
}

// ---------------------------------------------------------------------------------------------
// Membership

#[test]
fn cosine_distance_of_aligned_opposite_and_orthogonal() {
    assert_eq!(cosine_distance(&[2.0, 0.0], [1.0, 0.0]), 0.0);
    assert_eq!(cosine_distance(&[-3.0, 0.0], [1.0, 0.0]), 2.0);
    assert_eq!(cosine_distance(&[0.0, 5.0], [1.0, 0.0]), 1.0);
    assert_eq!(cosine_distance(&[0.0, 0.0], [1.0, 0.0]), 1.0);
}

#[test]
fn memberships_sum_to_one() {
    let mut rng = Xorshift(0x5EED_0007);
    for k in 2..=10 {
        for _ in 0..100 {
            let distances: Vec<f32> = (0..k).map(|_| rng.uniform(0.0, 2.0) as f32).collect();
            let mut result = vec![0.0f32; k];
            memberships(&distances, &mut result);
            let total: f32 = result.iter().sum();
            assert!((total - 1.0).abs() < 1e-5, "k {k}: total {total}");
            assert!(
                result.iter().all(|&m| (0.0..=1.0).contains(&m)),
                "k {k}: {result:?}"
            );
        }
    }
}

#[test]
fn memberships_match_inverse_distance_form() {
    let distances = [0.5f32, 1.0, 2.0];
    let mut result = [0.0f32; 3];
    memberships(&distances, &mut result);
    // (1/d_c) / sum(1/d_l) with 1/d = 2, 1, 0.5.
    let expected = [2.0 / 3.5, 1.0 / 3.5, 0.5 / 3.5];
    for (m, e) in result.iter().zip(expected) {
        assert!((m - e).abs() < 1e-6, "{result:?}");
    }
}

#[test]
fn memberships_with_zero_distance() {
    let mut result = [0.0f32; 3];
    memberships(&[0.7, 0.0, 1.3], &mut result);
    assert_eq!(result, [0.0, 1.0, 0.0]);
    memberships(&[0.0, 0.0, 1.3], &mut result);
    assert_eq!(result, [1.0, 0.0, 0.0]);
}

#[test]
fn assignment_picks_nearest_code_and_flags_uncertain() {
    let assignment = Assignment::from_distances(&[0.9, 0.2, 1.5], 0.5);
    assert_eq!(assignment.cluster, 1);
    assert_eq!(assignment.clusters, 3);
    assert_eq!(assignment.memberships().len(), 3);
    assert!(assignment.strength() > 0.7);
    assert!(!assignment.uncertain);

    let unsure = Assignment::from_distances(&[1.0, 1.0, 1.01], 0.5);
    assert_eq!(unsure.cluster, 0);
    assert!(unsure.uncertain);
}

#[test]
fn assignment_line_format() {
    let assignment = Assignment::from_distances(&[0.5, 1.0, 2.0], 0.5);
    let line = assignment.line(7).to_string();
    assert_eq!(line, "image 7: cluster 0 strength 0.571");
}

// ---------------------------------------------------------------------------------------------
// Engine

/// Input 1x6x6, conv (1->3, kernel 3, stride 2, padding 1) + LeakyReLU to 3x3x3, dense (27->5),
/// projection with 3 rows, 3 clusters on the unit simplex.
fn tiny_model(rng: &mut Xorshift) -> Vec<u8> {
    let conv_kind = LayerKind::Conv2d {
        kernel: [3, 3],
        stride: [2, 2],
        padding: [1, 1],
    };
    let mut conv = RealLayer::random(conv_kind, 1, 3, 9, Some(0.2), rng);
    conv.input_scale = 1.0 / 255.0;
    conv.input_zero_point = -128;
    let mut dense = RealLayer::random(LayerKind::Dense, 27, 5, 27, None, rng);
    dense.input_scale = conv.output_scale;
    dense.input_zero_point = conv.output_zero_point;

    let half_sqrt3 = 3f32.sqrt() / 2.0;
    let spec = ModelSpec {
        input_shape: [1, 6, 6],
        input_scale: 1.0 / 255.0,
        uncertain_threshold: 0.4,
        layers: vec![conv.spec(), dense.spec()],
        projection: ProjectionSpec {
            rows: (0..3)
                .map(|r| ProjectionRow {
                    bias: 10 * r - 10,
                    score_scale: 0.01,
                })
                .collect(),
            weights: (0..15).map(|_| rng.weight()).collect(),
        },
        cluster_codes: vec![0.0, 1.0, -half_sqrt3, -0.5, half_sqrt3, -0.5],
        cluster_names: vec!["zero".to_string(), "one".to_string(), "two".to_string()],
        prototypes: vec![0; 3 * 36],
    };
    spec.to_bytes().unwrap()
}

#[test]
fn engine_matches_kernel_composition() {
    let mut rng = Xorshift(0x5EED_0008);
    let bytes = tiny_model(&mut rng);
    let model = Model::parse(&bytes).unwrap();
    let engine = Engine::new(model);
    let layers: Vec<_> = model.layers().collect();
    let layer_scratch = layers.iter().map(layer_scratch_len).max().unwrap();
    assert_eq!(engine.scratch_len(), 36 + layer_scratch);

    for _ in 0..20 {
        let image: Vec<u8> = (0..36).map(|_| rng.next() as u8).collect();

        // The same steps by hand.
        let input: Vec<i8> = image.iter().map(|&p| (i16::from(p) - 128) as i8).collect();
        let mut scratch = vec![0i8; layer_scratch];
        let mut hidden = vec![0i8; 27];
        run_layer(&layers[0], &input, &mut scratch, &mut hidden).unwrap();
        let mut features = vec![0i8; 5];
        run_layer(&layers[1], &hidden, &mut scratch, &mut features).unwrap();
        let mut scores = [0.0f32; 2];
        crate::project(&model.projection(), &features, &mut scores).unwrap();
        let distances: Vec<f32> = model
            .cluster_codes()
            .map(|code| cosine_distance(&scores, code))
            .collect();
        let expected = Assignment::from_distances(&distances, 0.4);

        let mut scratch = vec![0i8; engine.scratch_len()];
        assert_eq!(
            engine.features(&image, &mut scratch).unwrap(),
            &features[..]
        );
        let assignment = engine.assign(&image, &mut scratch).unwrap();
        assert_eq!(assignment, expected);
        let total: f32 = assignment.memberships().iter().sum();
        assert!((total - 1.0).abs() < 1e-5);
    }
}

#[test]
fn engine_rejects_wrong_input_length() {
    let bytes = tiny_model(&mut Xorshift(0x5EED_0009));
    let engine = Engine::new(Model::parse(&bytes).unwrap());
    let mut scratch = vec![0i8; engine.scratch_len()];
    let error = engine.assign(&[0; 35], &mut scratch).unwrap_err();
    assert_eq!(
        error,
        EngineError::InputLength {
            expected: 36,
            actual: 35
        }
    );
}

#[test]
fn engine_rejects_small_scratch() {
    let bytes = tiny_model(&mut Xorshift(0x5EED_000A));
    let engine = Engine::new(Model::parse(&bytes).unwrap());
    let mut scratch = vec![0i8; engine.scratch_len() - 1];
    let error = engine.assign(&[0; 36], &mut scratch).unwrap_err();
    let needed = engine.scratch_len();
    assert_eq!(
        error,
        EngineError::ScratchTooSmall {
            needed,
            available: needed - 1
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Three-decimal strength text

/// `write_thousandths` into a `String`.
fn thousandths_text(value: f32) -> std::string::String {
    let mut text = std::string::String::new();
    crate::membership::write_thousandths(&mut text, value).unwrap();
    text
}

#[test]
fn thousandths_ties_round_to_even() {
    // In [0, 1] the only exact ties at three decimals are the odd sixteenths.
    let cases = [
        (0.0625, "0.062"),
        (0.1875, "0.188"),
        (0.3125, "0.312"),
        (0.4375, "0.438"),
        (0.5625, "0.562"),
        (0.6875, "0.688"),
        (0.8125, "0.812"),
        (0.9375, "0.938"),
    ];
    for (value, expected) in cases {
        assert_eq!(thousandths_text(value), expected, "value {value}");
    }
}

#[test]
fn thousandths_clamps_outside_unit_interval() {
    assert_eq!(thousandths_text(0.0), "0.000");
    assert_eq!(thousandths_text(-0.0), "0.000");
    assert_eq!(thousandths_text(1.0), "1.000");
    assert_eq!(thousandths_text(-0.3), "0.000");
    assert_eq!(thousandths_text(1.7), "1.000");
    assert_eq!(thousandths_text(f32::NAN), "0.000");
    assert_eq!(thousandths_text(f32::INFINITY), "1.000");
    assert_eq!(thousandths_text(f32::from_bits(1)), "0.000");
}

#[test]
fn thousandths_match_core_near_every_boundary() {
    // The values around each rounding boundary k/1000 + 1/2000, where errors would show.
    for k in 0..1000u32 {
        let boundary = (f64::from(k) + 0.5) / 1000.0;
        let center = boundary as f32;
        let mut value = f32::from_bits(center.to_bits() - 4);
        for _ in 0..9 {
            assert_eq!(
                thousandths_text(value),
                std::format!("{value:.3}"),
                "value {value:e}"
            );
            value = f32::from_bits(value.to_bits() + 1);
        }
    }
}

#[test]
fn thousandths_match_core_on_random_values() {
    let mut rng = Xorshift(0x5EED_0010);
    for _ in 0..200_000 {
        let value = rng.unit() as f32;
        assert_eq!(
            thousandths_text(value),
            std::format!("{value:.3}"),
            "value {value:e}"
        );
    }
}

/// Every `f32` in `[0, 1]`, about 1.07e9 values: 200 s in release mode on one x86-64 core, so
/// it runs on request with `cargo test --release -p firmware --lib -- --ignored thousandths`.
#[test]
#[ignore]
fn thousandths_match_core_on_every_value() {
    let mut text = std::string::String::new();
    for bits in 0..=1.0f32.to_bits() {
        let value = f32::from_bits(bits);
        text.clear();
        crate::membership::write_thousandths(&mut text, value).unwrap();
        let expected = std::format!("{value:.3}");
        assert_eq!(text, expected, "value {value:e} (bits {bits:#x})");
    }
}
