#!/bin/sh
# Builds every bench/programs/*.c to wasm32-wasi (bench/wasm/NAME.wasm, committed)
# and natively (build/native/NAME, not committed), then records the native outputs
# in bench/expected.json.
# Needs Debian's clang, lld, wasi-libc and libclang-rt-14-dev-wasm32 (or newer) and gcc.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
programs="$root/bench/programs"
wasm_out="$root/bench/wasm"
native_out="$root/build/native"
sysroot=${WASI_SYSROOT:-/usr/share/wasi-sysroot}
clang=${CLANG:-clang}
cc=${CC:-gcc}

if [ ! -d "$sysroot" ] && [ -d /usr/include/wasm32-wasi ]; then
    # Debian's wasi-libc installs headers and libraries under the multiarch paths.
    sysroot=/usr
fi

mkdir -p "$wasm_out" "$native_out"
for src in "$programs"/*.c; do
    name=$(basename "$src" .c)
    echo "building $name"
    # A program may ask for wasm features with a ` * wasm-cflags: ...` line in its header.
    extra=$(sed -n 's/^ \* wasm-cflags: //p' "$src")
    # shellcheck disable=SC2086  # $extra is a list of flags
    "$clang" --target=wasm32-wasi --sysroot="$sysroot" -O2 -Wall -Wextra -Werror -Wl,--strip-debug \
        $extra -o "$wasm_out/$name.wasm" "$src"
    "$cc" -O2 -Wall -Wextra -Werror -o "$native_out/$name" "$src"
done

# The threads bench (bench/threads.py): freestanding, with one imported shared memory.
echo "building threads/psum"
"$clang" --target=wasm32 -O2 -nostdlib -Wall -Wextra -Werror -matomics -mbulk-memory \
    -Wl,--no-entry,--shared-memory,--import-memory,--max-memory=131072,--strip-debug \
    -o "$root/bench/threads/psum.wasm" "$root/bench/threads/psum.c"
"$cc" -O2 -Wall -Wextra -Werror -pthread -o "$native_out/psum" "$root/bench/threads/psum.c"

# The memory64 bench (bench/memory64.py): freestanding wasm64, memory up to 8 GiB.
echo "building memory64/sieve64"
"$clang" --target=wasm64 -O2 -nostdlib -Wall -Wextra -Werror -mbulk-memory \
    -Wl,--no-entry,--strip-debug,--max-memory=8589934592 \
    -o "$root/bench/memory64/sieve64.wasm" "$root/bench/memory64/sieve64.c"
"$cc" -O2 -Wall -Wextra -Werror -o "$native_out/sieve64" "$root/bench/memory64/sieve64.c"

python3 "$root/bench/record_expected.py"
