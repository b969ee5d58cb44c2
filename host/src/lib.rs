//! GenKSC trainer: data, model, objective, optimizer, metrics and exports.

pub mod cayley;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod evaluate;
pub mod graph;
pub mod kmeans;
pub mod ksc;
pub mod linalg;
pub mod metrics;
pub mod model;
pub mod quantize;
pub mod rng;
pub mod train;
pub mod trained;
