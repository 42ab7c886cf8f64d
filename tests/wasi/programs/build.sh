#!/bin/sh
# Rebuilds the committed wasm test programs of tests/wasi (needs Debian's clang, lld,
# wasi-libc and libclang-rt-14-dev-wasm32, like bench/build.sh).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
sysroot=${WASI_SYSROOT:-/usr/share/wasi-sysroot}
if [ ! -d "$sysroot" ] && [ -d /usr/include/wasm32-wasi ]; then
    sysroot=/usr
fi
for src in "$here"/*.c; do
    ${CLANG:-clang} --target=wasm32-wasi --sysroot="$sysroot" -O2 -Wall -Wextra -Werror \
        -Wl,--strip-debug -o "${src%.c}.wasm" "$src"
done
