#!/usr/bin/env bash
# Builds the Rust test targets (mt, ct, hyperserver, loadgen) in three
# variants, offline, from the crates Debian ships in /usr/share/cargo/registry
# (see .cargo/config.toml):
#   target/      default release profile (+ target/release/mt.stripped)
#   target-lto/  fat LTO, 1 codegen unit
#   target-v0/   v0 symbol mangling
# Quiet when up to date (only cargo's "Finished" lines); fails on any error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

. "$here/cargo_env.sh"
[ -d /usr/share/cargo/registry/tokio-1.24.2 ] || {
	echo "build.sh: /usr/share/cargo/registry/tokio-1.24.2 missing (apt-get install librust-tokio-dev librust-hyper-dev)" >&2
	exit 1
}

build() { # build DIR [VAR=VALUE...]
	local dir=$1
	shift
	env "${clean_env[@]}" CARGO_TARGET_DIR="$here/$dir" "$@" \
		cargo build --release --offline --bins
}

build target
build target-lto CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
build target-v0 RUSTFLAGS="-C symbol-mangling-version=v0"

bin=target/release/mt
if [ ! -e "$bin.stripped" ] || [ "$bin" -nt "$bin.stripped" ]; then
	objcopy --strip-all "$bin" "$bin.stripped.tmp"
	mv -f "$bin.stripped.tmp" "$bin.stripped"
fi
