//! Helpers shared by the integration tests of the `host` binary.

#![allow(dead_code)] // Each test file uses a different subset.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Returns the repository's `data/` folder, or `None` (after a message) when MNIST has not been
/// fetched. Under CI (the `CI` environment variable is set) missing data fails the test instead.
pub fn data_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    if dir.join("mnist/train-images-idx3-ubyte").exists() {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{} has no MNIST files; run scripts/fetch-data.sh first",
            dir.display()
        );
    }
    eprintln!(
        "skipped: {} has no MNIST files; run scripts/fetch-data.sh",
        dir.display()
    );
    None
}

/// Builds a command that runs the `host` binary with `args` and warnings-only logging.
pub fn host_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_host"));
    command.args(args).env("RUST_LOG", "warn");
    command
}

/// Runs the `host` binary with `args` and returns its output.
pub fn host(args: &[&str]) -> Output {
    host_command(args).output().expect("host binary runs")
}

/// Formats the status, stdout and stderr of `output` for an assertion message.
pub fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
