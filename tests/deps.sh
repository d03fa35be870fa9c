#!/usr/bin/env bash
# make deps: every Debian package asyncscope needs to build, test and run its
# demo on a fresh machine (as root).  Idempotent.
set -euo pipefail

pkgs=(
	make gcc clang llvm lld pkg-config binutils
	# libFuzzer and the sanitizer runtimes for clang (make fuzz)
	libclang-rt-14-dev
	libbpf-dev bpftool libelf-dev zlib1g-dev
	protobuf-c-compiler libprotobuf-c-dev protobuf-compiler
	libcmocka-dev libiberty-dev libcapstone-dev
	python3 strace wrk curl
	# the Rust test targets build offline from Debian's crate sources
	librust-tokio-dev librust-tokio-macros-dev librust-hyper-dev
	librust-tracing-dev librust-tracing-subscriber-dev
	# crates tests/targets names itself (tokio pulls them in too)
	librust-libc-dev librust-pin-project-lite-dev
)

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: installing packages needs root: run 'sudo make deps'" >&2
	exit 3
fi
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v cargo >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
	missing+=(cargo)
fi
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
echo "deps: all installed"
