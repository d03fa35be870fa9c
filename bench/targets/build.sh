#!/usr/bin/env bash
# Builds the benchmark targets offline, from the crates Debian ships in
# /usr/share/cargo/registry (.cargo/config.toml, as tests/targets does):
#   target/release/{benchserver,yielder}  default release profile
#   target-console/release/benchserver    tokio's own instrumentation:
#                                         --cfg tokio_unstable, feature console
#   big/target/release/bigbin             the generated large program
# Quiet when up to date (cargo's "Finished" lines); fails on any error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

. "$here/../../tests/targets/cargo_env.sh"
for crate in tokio-1.24.2 hyper-0.14.19 tracing-subscriber-0.3.16; do
	[ -d "/usr/share/cargo/registry/$crate" ] || {
		echo "bench/targets/build.sh: /usr/share/cargo/registry/$crate missing (make deps)" >&2
		exit 1
	}
done

build() { # build DIR [VAR=VALUE...] -- CARGO_ARGS...
	local dir=$1
	shift
	local vars=()
	while [ "$1" != "--" ]; do
		vars+=("$1")
		shift
	done
	shift
	env "${clean_env[@]}" CARGO_TARGET_DIR="$here/$dir" "${vars[@]}" \
		cargo build --release --offline "$@"
}

build target -- --bins
build target-console RUSTFLAGS="--cfg tokio_unstable" -- --bin benchserver --features console
# ~100k symbols and 300 future types; about a minute and a half on 2 vCPUs, once
(cd big && build big/target BIG_FUTURES=300 BIG_FILLER=90000 --)
