//! The QEMU firmware against `host assign`: both must print the same lines for the same model
//! and images, and the firmware must reject a corrupt model file.
//!
//! The tests train a small model on real MNIST012 images (2,000 training images, 2 epochs),
//! export it, and build `firmware/boards/qemu` for thumbv7em-none-eabihf with the exported
//! files embedded. They need the MNIST files (`scripts/fetch-data.sh`), `qemu-system-arm`,
//! the thumbv7em-none-eabihf target and `flip-link`. Without the data or QEMU they are
//! skipped with a message, except under CI, where they fail.
//!
//! The trained run and its export stay in `target/genksc-e2e/` after the tests, so that CI
//! can build the board programs with a real model.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tests::{
    command_exists, describe, host_binary, mnist_dir, output_of, output_with_timeout, require,
    workspace_root,
};

/// Test images embedded in the firmware, from the start of the MNIST test set.
const IMAGE_COUNT: usize = 20;
/// Maximum time for one QEMU run. A run takes under a second here.
const QEMU_TIMEOUT: Duration = Duration::from_secs(120);
const THUMB_TARGET: &str = "thumbv7em-none-eabihf";

/// A small trained and exported model, and the test images, shared by the tests.
struct Exported {
    work_dir: PathBuf,
    model: PathBuf,
    images: PathBuf,
}

/// Trains and exports the model once for all tests, or returns `None` when the MNIST files
/// or QEMU are missing (outside CI).
fn exported() -> Option<&'static Exported> {
    static EXPORTED: OnceLock<Option<Exported>> = OnceLock::new();
    EXPORTED
        .get_or_init(|| {
            let qemu = "qemu-system-arm is not installed; install it with `apt-get install \
                        qemu-system-arm`";
            if !require(command_exists("qemu-system-arm"), qemu) {
                return None;
            }
            let mnist = mnist_dir()?;
            Some(train_and_export(&mnist))
        })
        .as_ref()
}

fn train_and_export(mnist: &Path) -> Exported {
    let work_dir = workspace_root().join("target/genksc-e2e");
    if work_dir.exists() {
        fs::remove_dir_all(&work_dir).expect("the old test folder can be removed");
    }
    fs::create_dir_all(&work_dir).expect("the test folder can be created");
    let run_dir = work_dir.join("run");
    let data_dir = mnist.parent().expect("data/mnist has a parent");

    let train = output_of(
        Command::new(host_binary())
            .args(["train", "--train-limit", "2000", "--test-limit", "300"])
            .args(["--epochs", "2", "--warmup-epochs", "1", "--quiet"])
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--out")
            .arg(&run_dir)
            .env("RUST_LOG", "warn"),
    );
    assert!(
        train.status.success(),
        "host train failed\n{}",
        describe(&train)
    );

    let export = output_of(
        Command::new(host_binary())
            .arg("export")
            .arg("--run")
            .arg(&run_dir)
            .arg("--data-dir")
            .arg(data_dir)
            .env("RUST_LOG", "warn"),
    );
    assert!(
        export.status.success(),
        "host export failed\n{}",
        describe(&export)
    );

    let model = run_dir.join("export/model.gksc");
    assert!(model.exists(), "host export wrote no {}", model.display());
    Exported {
        work_dir,
        model,
        images: mnist.join("t10k-images-idx3-ubyte"),
    }
}

/// Builds the QEMU program with `model` and the first [`IMAGE_COUNT`] of `images` embedded, and
/// returns a copy of its ELF file named `name`.elf in `work_dir`.
///
/// Builds run one at a time, because every build writes the same ELF path.
fn build_qemu_firmware(model: &Path, images: &Path, work_dir: &Path, name: &str) -> PathBuf {
    static BUILD: Mutex<()> = Mutex::new(());
    let _guard = BUILD
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());

    let boards = workspace_root().join("firmware/boards");
    let target_dir = boards.join("target");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // The board's `.cargo/config.toml` files apply because the build runs in its folder. The
    // removed variables would override their target and linker flags.
    let build = output_of(
        Command::new(cargo)
            .current_dir(boards.join("qemu"))
            .args(["build", "--release", "--target", THUMB_TARGET])
            .arg("--target-dir")
            .arg(&target_dir)
            .env("GENKSC_MODEL", model)
            .env("GENKSC_IMAGES", images)
            .env("GENKSC_COUNT", IMAGE_COUNT.to_string())
            .env_remove("CARGO_BUILD_TARGET")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS"),
    );
    assert!(
        build.status.success(),
        "building the QEMU firmware failed (it needs `rustup target add {THUMB_TARGET}` and \
         `cargo install flip-link`)\n{}",
        describe(&build)
    );

    let built = target_dir.join(THUMB_TARGET).join("release/genksc-qemu");
    let copy = work_dir.join(format!("{name}.elf"));
    fs::copy(&built, &copy).expect("the firmware ELF can be copied");
    copy
}

fn run_in_qemu(elf: &Path) -> std::process::Output {
    // The same command as the runner in firmware/boards/qemu/.cargo/config.toml.
    output_with_timeout(
        Command::new("qemu-system-arm")
            .args(["-machine", "mps2-an386", "-cpu", "cortex-m4", "-nographic"])
            .args(["-semihosting-config", "enable=on,target=native"])
            .args(["-icount", "shift=0", "-kernel"])
            .arg(elf),
        QEMU_TIMEOUT,
    )
}

#[test]
fn firmware_lines_match_host_assign() {
    let Some(exported) = exported() else {
        return;
    };

    let assign = output_of(
        Command::new(host_binary())
            .arg("assign")
            .arg("--model")
            .arg(&exported.model)
            .arg("--images")
            .arg(&exported.images)
            .args(["--count", &IMAGE_COUNT.to_string()])
            .env("RUST_LOG", "warn"),
    );
    assert!(
        assign.status.success(),
        "host assign failed\n{}",
        describe(&assign)
    );
    let host_lines = String::from_utf8(assign.stdout.clone()).expect("host output is UTF-8");
    assert_eq!(
        host_lines.lines().count(),
        IMAGE_COUNT,
        "{}",
        describe(&assign)
    );

    let elf = build_qemu_firmware(
        &exported.model,
        &exported.images,
        &exported.work_dir,
        "firmware",
    );
    let qemu = run_in_qemu(&elf);
    assert!(
        qemu.status.success(),
        "the firmware failed in QEMU\n{}",
        describe(&qemu)
    );
    let firmware_lines = String::from_utf8(qemu.stdout.clone()).expect("firmware output is UTF-8");

    for (index, (firmware, host)) in firmware_lines.lines().zip(host_lines.lines()).enumerate() {
        assert_eq!(
            firmware, host,
            "line {index} differs between firmware and host"
        );
    }
    assert_eq!(
        firmware_lines.lines().count(),
        IMAGE_COUNT,
        "the firmware printed another number of lines\n{}",
        describe(&qemu)
    );
    assert_eq!(firmware_lines, host_lines);
}

#[test]
fn firmware_rejects_corrupt_model() {
    let Some(exported) = exported() else {
        return;
    };

    // One flipped bit in the middle of the payload, which the CRC-32 must catch.
    let mut bytes = fs::read(&exported.model).expect("the exported model can be read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    let corrupt = exported.work_dir.join("corrupt.gksc");
    fs::write(&corrupt, &bytes).expect("the corrupt model can be written");

    let elf = build_qemu_firmware(&corrupt, &exported.images, &exported.work_dir, "corrupt");
    let qemu = run_in_qemu(&elf);
    let report = describe(&qemu);
    assert!(!qemu.status.success(), "QEMU exited with success\n{report}");
    assert!(
        qemu.stdout.is_empty(),
        "the firmware printed results\n{report}"
    );
    let stderr = String::from_utf8_lossy(&qemu.stderr);
    assert!(stderr.contains("ERROR"), "no error message\n{report}");
    assert!(
        stderr.contains("checksum mismatch"),
        "no checksum message\n{report}"
    );
}
