//! GenKSC trainer: data, model, objective, optimizer, metrics and exports.

pub mod cayley;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod evaluate;
pub mod export;
pub mod graph;
pub mod kmeans;
pub mod ksc;
pub mod latent;
pub mod linalg;
pub mod metrics;
pub mod model;
pub mod onnx;
pub mod pictures;
pub mod quantize;
pub mod rng;
pub mod tract_runner;
pub mod train;
pub mod trained;
pub mod validate;
