//! One module per subcommand: its arguments and what it runs.

pub mod assign;
pub mod bench_onnx;
pub mod export;
pub mod render;
pub mod train;
pub mod validate;
