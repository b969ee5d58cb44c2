//! Sets the `arm_dsp` cfg on Armv7E-M targets (Cortex-M4 and Cortex-M7), whose DSP extension
//! has the `SXTB16` and `SMLAD` instructions that the kernels use there. Stable Rust does not
//! expose `target_feature = "dsp"` to `cfg`, so the target name decides.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(arm_dsp)");
    println!("cargo::rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("thumbv7em-") {
        println!("cargo::rustc-cfg=arm_dsp");
    }
}
