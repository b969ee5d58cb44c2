//! Int8 inference for GenKSC model files, without heap or atomics.
//!
//! [`Engine::assign`] runs one image through a parsed [`Model`]: the int8 encoder layers, the
//! projection onto the cluster scores `e' = U'^T (phi(x) - mean)`, the cosine distances to the
//! cluster codes and the soft memberships. The caller provides all working memory as one
//! `&mut [i8]` of [`Engine::scratch_len`] elements.
//!
//! # Arithmetic
//!
//! The file format (see the `model_format` crate docs) fixes every step, and this crate follows
//! it exactly:
//!
//! - A pixel `p` becomes the int8 value `p - 128`.
//! - Each output accumulates `bias + sum w * x` in `i32` over the raw int8 inputs (the input
//!   zero point is folded into the bias), and convolutions pad with the input zero point.
//! - Requantization is one rounding step: the 64-bit product with the Q31 multiplier, plus
//!   `2^(n - 1)`, arithmetically shifted right by `n = 31 + shift`, that is round half up; then
//!   the output zero point is added and the result clamped to -128..=127 ([`requantize`]). A
//!   LeakyReLU selects a second multiplier for negative accumulators ([`activate`]).
//! - The projection converts each int32 accumulator to `f32` and multiplies it by the row's
//!   score scale ([`project`]).
//! - Distances and memberships use `f32` in a fixed order and `libm::sqrtf` ([`membership`]).
//!
//! The integer steps are exact and the `f32` steps are IEEE 754 operations without fused
//! multiply-add and with a correctly rounded square root, so the host and a Cortex-M produce
//! bit-identical assignments, and [`AssignmentLine`] prints byte-identical lines.
//!
//! NOTE: that argument rests on IEEE semantics. The end-to-end test in `tests/` compares the
//! lines of QEMU's emulated Cortex-M4 with the host's on 20 MNIST images, but no real board has
//! been compared yet.
//!
//! # Example
//!
//! ```no_run
//! use firmware::Engine;
//! use model_format::Model;
//!
//! # fn run(file: &[u8], image: &[u8; 784]) -> Result<(), firmware::EngineError> {
//! let model = Model::parse(file).map_err(firmware::EngineError::Format)?;
//! let engine = Engine::new(model);
//! // At least `engine.scratch_len()` elements: 17,478 for the MNIST012 encoder and 33,926 for
//! // the FashionMNIST one.
//! let mut scratch = [0i8; 34 * 1024];
//! let assignment = engine.assign(image, &mut scratch)?;
//! # let _ = assignment.line(0);
//! # Ok(())
//! # }
//! ```

#![no_std]
#![deny(missing_docs, unsafe_code)]

#[cfg(test)]
extern crate std;

mod conv;
pub mod fmt;
mod kernels;
pub mod membership;
#[cfg(feature = "render")]
pub mod render;
mod simd;
#[cfg(test)]
mod tests;

pub use kernels::{activate, dot, layer_scratch_len, project, requantize, run_layer};
pub use membership::{Assignment, AssignmentLine};
pub use model_format::{FormatError, MAX_CLUSTERS, Model};

/// Reason an inference failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum EngineError {
    /// The image does not have the model's input length.
    InputLength {
        /// Pixels the model reads, `channels * height * width`.
        expected: usize,
        /// Pixels provided.
        actual: usize,
    },
    /// The scratch buffer is shorter than [`Engine::scratch_len`].
    ScratchTooSmall {
        /// Elements needed.
        needed: usize,
        /// Elements provided.
        available: usize,
    },
    /// A buffer passed to a kernel is shorter than the layer needs.
    BufferTooSmall {
        /// Elements needed.
        needed: usize,
        /// Elements provided.
        available: usize,
    },
    /// The model file was rejected; a convenience for callers that parse and run in one place.
    Format(FormatError),
}

impl core::fmt::Display for EngineError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            EngineError::InputLength { expected, actual } => {
                write!(f, "image has {actual} pixels, the model expects {expected}")
            }
            EngineError::ScratchTooSmall { needed, available } => write!(
                f,
                "scratch buffer has {available} elements, the model needs {needed}"
            ),
            EngineError::BufferTooSmall { needed, available } => {
                write!(
                    f,
                    "kernel buffer has {available} elements, the layer needs {needed}"
                )
            }
            EngineError::Format(error) => write!(f, "{error}"),
        }
    }
}

/// Runs a parsed model on images. It holds no buffers of its own.
#[derive(Clone, Copy, Debug)]
pub struct Engine<'a> {
    model: Model<'a>,
    /// The largest [`layer_scratch_len`] of the model's layers.
    layer_scratch_len: usize,
}

impl<'a> Engine<'a> {
    /// Creates an engine for `model`.
    pub fn new(model: Model<'a>) -> Self {
        let layer_scratch_len = model
            .layers()
            .map(|layer| layer_scratch_len(&layer))
            .max()
            .unwrap_or(0);
        Engine {
            model,
            layer_scratch_len,
        }
    }

    /// Returns the model this engine runs.
    pub fn model(&self) -> &Model<'a> {
        &self.model
    }

    /// Number of `i8` elements the scratch buffer needs: one activation buffer of the largest
    /// tensor, which each layer reads and then overwrites with its output, and the working
    /// memory of the most demanding layer ([`layer_scratch_len`]).
    pub fn scratch_len(&self) -> usize {
        self.model.max_tensor_len() + self.layer_scratch_len
    }

    /// Runs the encoder layers and returns the int8 feature vector, which lies in `scratch`.
    ///
    /// # Errors
    ///
    /// [`EngineError::InputLength`] when `image` does not have
    /// [`Model::input_len`] pixels, [`EngineError::ScratchTooSmall`] when `scratch` is shorter
    /// than [`scratch_len`](Self::scratch_len).
    pub fn features<'s>(
        &self,
        image: &[u8],
        scratch: &'s mut [i8],
    ) -> Result<&'s [i8], EngineError> {
        let input_len = self.model.input_len();
        if image.len() != input_len {
            return Err(EngineError::InputLength {
                expected: input_len,
                actual: image.len(),
            });
        }
        let needed = self.scratch_len();
        let available = scratch.len();
        let scratch = scratch
            .get_mut(..needed)
            .ok_or(EngineError::ScratchTooSmall { needed, available })?;

        let (tensor, layer_scratch) = scratch.split_at_mut(self.model.max_tensor_len());

        // u8 pixel p -> int8 p - 128: flipping the top bit is that subtraction.
        for (value, &pixel) in tensor.iter_mut().zip(image) {
            *value = (pixel ^ 0x80) as i8;
        }

        let mut len = input_len;
        for layer in self.model.layers() {
            kernels::run_layer_in_place(&layer, tensor, layer_scratch)?;
            len = layer.output_shape.len();
        }
        Ok(&tensor[..len])
    }

    /// Computes the first `scores.len()` entries (at most the latent size) of the score vector
    /// `e = U^T (phi(x) - mean)` of `image`.
    ///
    /// # Errors
    ///
    /// As [`features`](Self::features).
    pub fn scores(
        &self,
        image: &[u8],
        scratch: &mut [i8],
        scores: &mut [f32],
    ) -> Result<(), EngineError> {
        let features = self.features(image, scratch)?;
        project(&self.model.projection(), features, scores)
    }

    /// Assigns `image` to a cluster.
    ///
    /// # Errors
    ///
    /// As [`features`](Self::features).
    pub fn assign(&self, image: &[u8], scratch: &mut [i8]) -> Result<Assignment, EngineError> {
        let clusters = self.model.clusters();
        let code_len = clusters - 1;

        let mut scores = [0.0f32; MAX_CLUSTERS];
        self.scores(image, scratch, &mut scores[..code_len])?;

        let mut distances = [0.0f32; MAX_CLUSTERS];
        for (distance, code) in distances.iter_mut().zip(self.model.cluster_codes()) {
            *distance = membership::cosine_distance(&scores[..code_len], code);
        }
        let threshold = self.model.uncertain_threshold();
        Ok(Assignment::from_distances(
            &distances[..clusters],
            threshold,
        ))
    }
}
