# Sourced by tests/targets/build.sh and bench/targets/build.sh: puts cargo on
# PATH (or exits saying how to get it) and defines clean_env, the `env`
# arguments that drop the caller's variables which would change what a build
# variant means; every variant sets exactly what it needs.

# sudo resets PATH: look where rustup puts cargo too
PATH="$PATH:${HOME:-/root}/.cargo/bin:/root/.cargo/bin"
command -v cargo >/dev/null || {
	echo "$0: cargo not found: install Rust (rustup) or 'apt-get install cargo'" >&2
	exit 1
}

clean_env=(
	-u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS -u CARGO_BUILD_RUSTFLAGS
	-u CARGO_BUILD_TARGET -u CARGO_BUILD_TARGET_DIR
	-u CARGO_PROFILE_RELEASE_LTO -u CARGO_PROFILE_RELEASE_CODEGEN_UNITS
	-u CARGO_PROFILE_RELEASE_DEBUG -u CARGO_PROFILE_RELEASE_STRIP
	-u CARGO_PROFILE_RELEASE_OPT_LEVEL -u CARGO_PROFILE_RELEASE_PANIC
	-u CARGO_PROFILE_RELEASE_INCREMENTAL
)
