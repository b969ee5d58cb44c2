//! Embeds the model file and test images (see the `genksc-embed` crate for the environment
//! variables) and puts `memory.x` on the linker's search path.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("Cargo sets OUT_DIR"));
    if let Err(error) = std::fs::copy("memory.x", out_dir.join("memory.x")) {
        eprintln!(
            "error: cannot copy memory.x to {}: {error}",
            out_dir.display()
        );
        return ExitCode::FAILURE;
    }
    println!("cargo:rustc-link-search={}", out_dir.display());
    println!("cargo:rerun-if-changed=memory.x");

    match genksc_embed::embed_test_data() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
