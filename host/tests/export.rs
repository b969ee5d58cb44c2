//! End-to-end tests of `host export`, `host validate` and `host assign` on a small model
//! trained on real MNIST012 images.
//!
//! They need the data fetched by `scripts/fetch-data.sh`. Without it they are skipped with a
//! message, except under CI (the `CI` environment variable is set), where they fail. The ONNX
//! checker test also needs `python3` with `onnx`, `onnxruntime` and `numpy`; it is skipped
//! without them in the same way.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

mod common;

use common::{data_dir, host, text};

use serde_json::Value;

fn path_str(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// Run folder of a small model (2,000 training images, 2 epochs) and its export, made once
/// for all tests of this file.
struct Exported {
    data: PathBuf,
    run: PathBuf,
    export: PathBuf,
}

fn exported() -> Option<&'static Exported> {
    static EXPORTED: OnceLock<Option<Exported>> = OnceLock::new();
    EXPORTED
        .get_or_init(|| {
            let data = data_dir()?;
            let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("export-test");
            let _ = fs::remove_dir_all(&root);
            let run = root.join("run");
            let export = root.join("export");
            let train = host(&[
                "train",
                "--quiet",
                "--data-dir",
                path_str(&data),
                "--out",
                path_str(&run),
                "--train-limit",
                "2000",
                "--test-limit",
                "500",
                "--epochs",
                "2",
                "--warmup-epochs",
                "1",
            ]);
            assert!(train.status.success(), "train failed: {}", text(&train));
            let args = [
                "export",
                "--run",
                path_str(&run),
                "--out",
                path_str(&export),
            ];
            let output = host(&args);
            assert!(output.status.success(), "export failed: {}", text(&output));
            Some(Exported { data, run, export })
        })
        .as_ref()
}

/// Writes `bytes` as a model file named `name` next to the export and returns its path.
fn model_variant(exported: &Exported, name: &str, bytes: &[u8]) -> PathBuf {
    let path = exported.export.parent().unwrap().join(name);
    fs::write(&path, bytes).unwrap();
    path
}

fn test_images(exported: &Exported) -> PathBuf {
    exported.data.join("mnist/t10k-images-idx3-ubyte")
}

/// Runs `host assign` on a model file and returns its output.
fn assign(exported: &Exported, model: &Path, count: &str) -> Output {
    let images = test_images(exported);
    host(&[
        "assign",
        "--model",
        path_str(model),
        "--images",
        path_str(&images),
        "--count",
        count,
    ])
}

#[test]
fn export_writes_every_file() {
    let Some(exported) = exported() else { return };
    for name in ["encoder.onnx", "decoder.onnx", "model.gksc", "export.json"] {
        let path = exported.export.join(name);
        let len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{} is missing or empty", path.display());
    }
    let summary: Value =
        serde_json::from_str(&fs::read_to_string(exported.export.join("export.json")).unwrap())
            .unwrap();
    assert_eq!(summary["calibration_images"], 1000);
    assert_eq!(summary["prototype_images"], 2000);
    assert_eq!(summary["onnx_opset"], 17);
}

#[test]
fn validate_matches_burn() {
    let Some(exported) = exported() else { return };
    // The fixed-point targets are for fully trained models; this one trained for 2 epochs,
    // so only the ONNX limits keep their defaults here.
    let output = host(&[
        "validate",
        "--run",
        path_str(&exported.run),
        "--export",
        path_str(&exported.export),
        "--limit",
        "1000",
        "--min-fixed-point-agreement",
        "0.9",
        "--max-strength-mae",
        "0.1",
        "--max-acc-drop",
        "0.05",
    ]);
    assert!(
        output.status.success(),
        "validate failed: {}",
        text(&output)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("onnx_max_abs_diff_scores"), "{stdout}");

    let path = exported.export.join("validation.json");
    let validation: Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    let number = |key: &str| {
        validation[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} missing: {validation}"))
    };
    assert_eq!(number("images"), 1000.0);
    assert!(number("onnx_max_abs_diff_scores") <= 1e-4, "{validation}");
    assert!(number("onnx_max_abs_diff_image") <= 1e-4, "{validation}");
    assert!(
        number("onnx_max_abs_diff_membership") <= 1e-4,
        "{validation}"
    );
    assert_eq!(number("onnx_cluster_agreement"), 1.0, "{validation}");
    assert!(
        number("fixed_point_cluster_agreement") >= 0.9,
        "{validation}"
    );
    assert!(number("model_file_bytes") > 0.0, "{validation}");
    for key in [
        "fixed_point_strength_mae",
        "fixed_point_test_acc",
        "float_test_acc",
    ] {
        assert!(number(key).is_finite(), "{key}: {validation}");
    }
}

#[test]
fn validate_names_missed_threshold() {
    let Some(exported) = exported() else { return };
    // A copy, because validate writes validation.json and validate_matches_burn reads it.
    let export = exported.export.parent().unwrap().join("export-copy");
    fs::create_dir_all(&export).unwrap();
    for name in ["encoder.onnx", "decoder.onnx", "model.gksc"] {
        fs::copy(exported.export.join(name), export.join(name)).unwrap();
    }
    let stderr = failed_validation(
        exported,
        &export,
        &[
            "--limit",
            "200",
            "--max-strength-mae",
            "0",
            "--max-acc-drop",
            "1",
        ],
    );
    assert!(
        stderr.contains("validation failed: fixed_point_strength_mae"),
        "{stderr}"
    );

    // An export whose latent.json names another checkpoint is stale.
    let latent = fs::read_to_string(exported.export.join("latent.json")).unwrap();
    let mut latent: Value = serde_json::from_str(&latent).unwrap();
    latent["checkpoint_digest"] = "0000".into();
    fs::write(export.join("latent.json"), latent.to_string()).unwrap();
    let stderr = failed_validation(exported, &export, &[]);
    assert!(stderr.contains("another checkpoint"), "{stderr}");

    // A threshold no measurement can meet is rejected before anything runs.
    let stderr = failed_validation(exported, &export, &["--min-fixed-point-agreement", "1.01"]);
    assert!(
        stderr.contains("--min-fixed-point-agreement is 1.01"),
        "{stderr}"
    );
}

/// Runs `host validate` of the test run against `export` with `extra` options, checks that it
/// fails and returns its standard error.
fn failed_validation(exported: &Exported, export: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "validate",
        "--run",
        path_str(&exported.run),
        "--export",
        path_str(export),
    ];
    args.extend_from_slice(extra);
    let output = host(&args);
    assert!(
        !output.status.success(),
        "validate passed: {}",
        text(&output)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn assign_prints_one_line_per_image() {
    let Some(exported) = exported() else { return };
    let output = assign(exported, &exported.export.join("model.gksc"), "7");
    assert!(output.status.success(), "assign failed: {}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 7, "{stdout}");
    for (index, line) in lines.iter().enumerate() {
        let prefix = format!("image {index}: cluster ");
        let rest = line
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("line {line:?}"));
        let (cluster, strength) = rest.split_once(" strength ").expect("strength field");
        let cluster: usize = cluster.parse().expect("cluster is a number");
        assert!(cluster < 3, "{line}");
        let (whole, decimals) = strength.split_once('.').expect("strength has decimals");
        assert_eq!(decimals.len(), 3, "{line}");
        assert!(whole == "0" || strength == "1.000", "{line}");
    }
}

#[test]
fn assign_rejects_corrupt_model() {
    let Some(exported) = exported() else { return };
    let mut bytes = fs::read(exported.export.join("model.gksc")).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    let path = model_variant(exported, "corrupt.gksc", &bytes);
    let output = assign(exported, &path, "1");
    assert!(!output.status.success(), "assign passed: {}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("corrupt.gksc is corrupt"), "{stderr}");
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    assert!(stderr.contains("export it again"), "{stderr}");
}

#[test]
fn assign_rejects_truncated_model() {
    let Some(exported) = exported() else { return };
    let bytes = fs::read(exported.export.join("model.gksc")).unwrap();
    let path = model_variant(exported, "truncated.gksc", &bytes[..bytes.len() - 100]);
    let output = assign(exported, &path, "1");
    assert!(!output.status.success(), "assign passed: {}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = format!(
        "truncated.gksc is truncated: it needs at least {} bytes but has {}",
        bytes.len(),
        bytes.len() - 100
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn assign_rejects_future_version() {
    let Some(exported) = exported() else { return };
    let mut bytes = fs::read(exported.export.join("model.gksc")).unwrap();
    // Bytes 4..6 hold the format version, little-endian.
    bytes[4..6].copy_from_slice(&2u16.to_le_bytes());
    let path = model_variant(exported, "future.gksc", &bytes);
    let output = assign(exported, &path, "1");
    assert!(!output.status.success(), "assign passed: {}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("future.gksc has format version 2"),
        "{stderr}"
    );
    assert!(stderr.contains("this build reads version 1"), "{stderr}");
}

#[test]
fn export_rejects_missing_run() {
    let missing = Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-such-run");
    let output = host(&["export", "--run", path_str(&missing)]);
    assert!(!output.status.success(), "export passed: {}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("run folder"), "{stderr}");
    assert!(stderr.contains("no-such-run not found"), "{stderr}");
    assert!(stderr.contains("train a model first"), "{stderr}");
}

#[test]
fn validate_rejects_missing_export() {
    let Some(exported) = exported() else { return };
    let missing = exported.export.parent().unwrap().join("no-such-export");
    let args = [
        "validate",
        "--run",
        path_str(&exported.run),
        "--export",
        path_str(&missing),
    ];
    let output = host(&args);
    assert!(
        !output.status.success(),
        "validate passed: {}",
        text(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no-such-export not found"), "{stderr}");
    assert!(stderr.contains("export --run"), "{stderr}");
}

/// Checks whether `python3` can import the packages the ONNX checker script needs.
fn python_has_onnx() -> bool {
    let import = Command::new("python3")
        .args(["-c", "import onnx, onnxruntime, numpy"])
        .output();
    if import.is_ok_and(|output| output.status.success()) {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("python3 cannot import onnx, onnxruntime and numpy; pip install them first");
    }
    eprintln!("skipped: python3 cannot import onnx, onnxruntime and numpy");
    false
}

#[test]
fn onnx_files_pass_checker() {
    let Some(exported) = exported() else { return };
    if !python_has_onnx() {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/check_onnx.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(&exported.export)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "check_onnx.py failed: {}",
        text(&output)
    );
}
