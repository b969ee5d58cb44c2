//! Helpers for the end-to-end tests in `tests/tests/`, which run the `host` binary, build the
//! board programs with Cargo and run them in QEMU.
//!
//! A missing prerequisite that a developer may reasonably lack (the MNIST files, QEMU) skips a
//! test with a message, except when the `CI` environment variable is set: then it fails, so
//! that CI cannot pass without running the test.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// Returns the root of the Cargo workspace.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lies inside the workspace")
        .to_path_buf()
}

/// Returns whether the test should run: `true` when `available`, otherwise `false` after
/// printing `reason`. Under CI it panics with `reason` instead.
pub fn require(available: bool, reason: &str) -> bool {
    if available {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{reason}");
    }
    // Written to the stderr handle itself, which libtest does not capture as it does
    // `eprintln!`, so the skip shows in the output of a passing test run.
    let _ = writeln!(std::io::stderr(), "skipped: {reason}");
    false
}

/// Returns the folder with the raw MNIST IDX files, or `None` (after the message of
/// [`require`]) when they have not been fetched.
pub fn mnist_dir() -> Option<PathBuf> {
    let dir = workspace_root().join("data/mnist");
    let present =
        dir.join("train-images-idx3-ubyte").exists() && dir.join("t10k-images-idx3-ubyte").exists();
    let reason = format!(
        "{} has no MNIST files; run scripts/fetch-data.sh",
        dir.display()
    );
    require(present, &reason).then_some(dir)
}

/// Returns the `host` binary of the profile these tests were built with.
///
/// `cargo test` builds it together with the tests when it tests the whole workspace, because
/// `host` has integration tests of its own. The environment variable `GENKSC_HOST_BIN`
/// overrides the path.
///
/// # Panics
///
/// When the binary does not exist, with the command that builds it.
pub fn host_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("GENKSC_HOST_BIN") {
        return PathBuf::from(path);
    }
    // Test executables live in target/<profile>/deps/, binaries in target/<profile>/.
    let test_executable = std::env::current_exe().expect("the test executable has a path");
    let profile_dir = test_executable
        .parent()
        .and_then(Path::parent)
        .expect("test executables lie in target/<profile>/deps");
    let host = profile_dir.join(format!("host{}", std::env::consts::EXE_SUFFIX));
    assert!(
        host.exists(),
        "{} not found; build it with `cargo build --release -p host`, or test the whole \
         workspace with `cargo test --release`",
        host.display()
    );
    host
}

/// Returns whether `program` starts with `--version`, that is, whether it is installed.
pub fn command_exists(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Runs `command` to completion and returns its output.
///
/// # Panics
///
/// When the command cannot start.
pub fn output_of(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"))
}

/// Runs `command` with its standard input closed and kills it after `timeout`.
///
/// # Panics
///
/// When the command cannot start, or when it runs longer than `timeout`.
pub fn output_with_timeout(command: &mut Command, timeout: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));

    // Read both pipes on their own threads, so that a chatty child cannot block on a full pipe.
    let stdout = read_in_background(child.stdout.take());
    let stderr = read_in_background(child.stderr.take());
    let status = wait_or_kill(&mut child, timeout)
        .unwrap_or_else(|| panic!("{command:?} timed out after {timeout:?} and was killed"));
    Output {
        status,
        stdout: stdout.join().expect("the reader thread does not panic"),
        stderr: stderr.join().expect("the reader thread does not panic"),
    }
}

fn read_in_background(
    pipe: Option<impl Read + Send + 'static>,
) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            // A read error ends the output early, and the caller gets the text read so far.
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// Waits for `child` up to `timeout`, then kills it and returns `None`.
fn wait_or_kill(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("waiting on the child works") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Formats the status and both output streams of a finished command, for failure messages.
pub fn describe(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
