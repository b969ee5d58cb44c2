//! One module per subcommand: its arguments and what it runs.

pub mod render;
pub mod train;
