//! End-to-end tests of `host train` on real MNIST012 images.
//!
//! They need the data fetched by `scripts/fetch-data.sh`. Without it they are skipped with a
//! message, except under CI (the `CI` environment variable is set), where they fail.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;

use common::{data_dir, host_command, text};

/// Creates a fresh, empty folder under the target directory.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(mut command: Command) -> Output {
    command.output().expect("host binary runs")
}

fn json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn metrics_lines(run_dir: &Path) -> Vec<Value> {
    let text = fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap_or_default();
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Arguments of a short run on a subset.
fn small_run(data: &Path, out: &Path, epochs: &str) -> Vec<String> {
    [
        "train",
        "--quiet",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--train-limit",
        "1500",
        "--test-limit",
        "300",
        "--epochs",
        epochs,
        "--warmup-epochs",
        "1",
        "--seed",
        "4",
    ]
    .iter()
    .map(|arg| arg.to_string())
    .collect()
}

fn args(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

/// Six epochs on the whole training split, tested on 1,000 test images. A 4-epoch run with 2
/// warm-up epochs fell from above 0.85 to ACC 0.74 when only the rounding of the activations
/// changed, so this run has 3 warm-up epochs and 3 with the cluster loss (ACC 0.92).
#[test]
fn short_run_clusters_well() {
    let Some(data) = data_dir() else { return };
    let out = scratch("accuracy");
    let output = run(host_command(&[
        "train",
        "--quiet",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--test-limit",
        "1000",
        "--epochs",
        "6",
        "--warmup-epochs",
        "3",
    ]));
    assert!(output.status.success(), "{}", text(&output));

    let summary = json(&out.join("summary.json"));
    let acc = summary["test"]["acc"].as_f64().unwrap();
    assert!(acc >= 0.85, "test ACC {acc} is below 0.85");
    for key in ["nmi", "ari", "ams", "balance"] {
        let value = summary["test"][key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&value), "{key} = {value}");
    }
    assert_eq!(summary["preset"], "mnist012");
    assert_eq!(summary["epochs"], 6);
    assert!(summary["orthonormality_error"].as_f64().unwrap() < 1e-5);
    assert!(summary["train_images_per_second"].as_f64().unwrap() > 0.0);

    let config = json(&out.join("config.json"));
    assert_eq!(config["latent_size"], 10);
    assert_eq!(config["clusters"], 3);
    assert_eq!(metrics_lines(&out).len(), 6);
}

#[test]
fn killed_run_resumes_like_uninterrupted() {
    let Some(data) = data_dir() else { return };
    let straight = scratch("straight");
    let output = run(host_command(&args(&small_run(&data, &straight, "3"))));
    assert!(output.status.success(), "{}", text(&output));

    // Kill a second run with the same seed once its first checkpoint is on disk. The metrics
    // line of an epoch is written before its checkpoint, so waiting for that line alone could
    // kill the run before it has anything to resume from.
    let killed = scratch("killed");
    let mut child = host_command(&args(&small_run(&data, &killed, "3")))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !killed.join("checkpoint.bin").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no checkpoint was written in 120 s"
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended with {status} before it could be killed");
        }
        thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let finished_before_kill = metrics_lines(&killed).len();
    assert!(
        finished_before_kill < 3,
        "the run finished before it was killed"
    );

    let resume = [
        "train",
        "--quiet",
        "--resume",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        killed.to_str().unwrap(),
        "--epochs",
        "3",
    ];
    let output = run(host_command(&resume));
    assert!(output.status.success(), "{}", text(&output));

    let resumed = metrics_lines(&killed);
    let expected = metrics_lines(&straight);
    let epochs: Vec<u64> = resumed
        .iter()
        .map(|line| line["epoch"].as_u64().unwrap())
        .collect();
    assert_eq!(epochs, vec![1, 2, 3]);
    for (resumed, expected) in resumed.iter().zip(&expected) {
        assert_eq!(
            resumed["test"], expected["test"],
            "epoch {}",
            expected["epoch"]
        );
        assert_eq!(
            resumed["losses"], expected["losses"],
            "epoch {}",
            expected["epoch"]
        );
    }
    assert_eq!(
        json(&killed.join("summary.json"))["test"],
        json(&straight.join("summary.json"))["test"]
    );
}

#[test]
fn diverging_run_keeps_last_checkpoint() {
    let Some(data) = data_dir() else { return };
    let out = scratch("diverging");
    let output = run(host_command(&args(&small_run(&data, &out, "1"))));
    assert!(output.status.success(), "{}", text(&output));
    let checkpoint = fs::read(out.join("checkpoint.bin")).unwrap();

    // A huge learning rate drives the features to infinity within a few steps.
    let resume = [
        "train",
        "--quiet",
        "--resume",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--epochs",
        "2",
        "--learning-rate",
        "1e30",
    ];
    let output = run(host_command(&resume));
    assert!(!output.status.success(), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the loss became"), "{stderr}");
    assert!(stderr.contains("epoch 2"), "{stderr}");
    assert_eq!(fs::read(out.join("checkpoint.bin")).unwrap(), checkpoint);
    assert_eq!(metrics_lines(&out).len(), 1);
}

/// A finished run survives a second `train` into its folder and a resume with fewer epochs.
#[test]
fn existing_run_is_kept() {
    let Some(data) = data_dir() else { return };
    let out = scratch("existing");
    let output = run(host_command(&args(&small_run(&data, &out, "1"))));
    assert!(output.status.success(), "{}", text(&output));
    let checkpoint = fs::read(out.join("checkpoint.bin")).unwrap();
    let config = fs::read(out.join("config.json")).unwrap();

    let output = run(host_command(&args(&small_run(&data, &out, "1"))));
    assert!(!output.status.success(), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--overwrite"), "{stderr}");

    let out_str = out.to_str().unwrap();
    let fewer = ["train", "--resume", "--out", out_str, "--epochs", "0"];
    let output = run(host_command(&fewer));
    assert!(!output.status.success(), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--epochs 0"), "{stderr}");

    assert_eq!(fs::read(out.join("checkpoint.bin")).unwrap(), checkpoint);
    assert_eq!(fs::read(out.join("config.json")).unwrap(), config);

    let mut replace = small_run(&data, &out, "1");
    replace.push("--overwrite".into());
    let output = run(host_command(&args(&replace)));
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(metrics_lines(&out).len(), 1);
}

#[test]
fn bad_inputs_get_clear_errors() {
    let empty = scratch("no-data");
    let out = scratch("bad-inputs");
    let out = out.to_str().unwrap();
    let cases: [(Vec<&str>, &str); 11] = [
        (
            vec!["bench-onnx", "--model", "missing.onnx", "--seconds", "NaN"],
            "--seconds",
        ),
        (
            vec!["train", "--data-dir", empty.to_str().unwrap(), "--out", out],
            "fetch-data.sh",
        ),
        (
            vec!["train", "--degree-floor", "1e-300", "--out", out],
            "--degree-floor",
        ),
        (vec!["train", "--eta-cl", "inf", "--out", out], "--eta-cl"),
        (
            vec!["train", "--train-limit", "1", "--out", out],
            "--train-limit",
        ),
        (
            vec!["train", "--resume", "--overwrite", "--out", out],
            "--overwrite",
        ),
        (
            vec!["train", "--preset", "cifar", "--out", out],
            "mnist012, fashion-mnist",
        ),
        (vec!["train", "--epochs", "0", "--out", out], "--epochs"),
        (
            vec!["train", "--batch-size", "1", "--out", out],
            "--batch-size",
        ),
        (vec!["train", "--resume", "--out", out], "without --resume"),
        (
            vec!["train", "--learning-rate=-1", "--out", out],
            "--learning-rate",
        ),
    ];
    for (arguments, expected) in cases {
        let output = run(host_command(&arguments));
        assert!(!output.status.success(), "{arguments:?} succeeded");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(expected),
            "{arguments:?}: {stderr:?} does not mention {expected}"
        );
    }
    // Rejected settings leave no run folder behind.
    assert!(!Path::new(out).join("config.json").exists());
}

#[cfg(not(feature = "wgpu"))]
#[test]
fn wgpu_backend_needs_feature() {
    let out = scratch("wgpu");
    let output = run(host_command(&[
        "train",
        "--backend",
        "wgpu",
        "--out",
        out.to_str().unwrap(),
    ]));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--features wgpu"), "{stderr}");
}
