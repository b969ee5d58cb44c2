//! One module per subcommand: its arguments and what it runs.

pub mod assign;
pub mod bench_onnx;
pub mod export;
pub mod plot;
pub mod render;
pub mod train;
pub mod traverse;
pub mod validate;
