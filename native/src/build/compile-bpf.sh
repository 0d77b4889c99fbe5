#!/bin/sh
# Compiles every SRC_DIR/*.bpf.c into OUT_DIR/<name>.bpf.o with clang, for the native module's
# Maven build (exec-maven-plugin calls it for src/main/bpf and for src/test/bpf). The objects are
# build output only: they land in target/ and ship inside the jar, never in git.
#
# usage: compile-bpf.sh SRC_DIR OUT_DIR [INCLUDE_DIR...]
# CLANG (default: clang) picks the compiler. An object newer than its source and every header
# under SRC_DIR and the include dirs is left alone, so a rebuild without changes costs nothing.
set -eu

if [ $# -lt 2 ]; then
    echo "usage: $0 SRC_DIR OUT_DIR [INCLUDE_DIR...]" >&2
    exit 2
fi
src=$1
out=$2
shift 2
clang=${CLANG:-clang}

if ! command -v "$clang" >/dev/null 2>&1; then
    echo "ERROR: '$clang' not found: Shunt's BPF programs ($src/*.bpf.c) are compiled by clang during the build." >&2
    echo "       Install clang, llvm and libbpf-dev (Debian/Ubuntu: apt-get install clang llvm libbpf-dev;" >&2
    echo "       scripts/setup does this), or point CLANG at a clang binary, then rerun the build." >&2
    exit 1
fi

# <linux/bpf.h> includes <asm/types.h>, which Debian keeps in the multiarch directory; clang does
# not search it when it targets bpf, so it is added by hand.
multiarch=$("$clang" -print-multiarch 2>/dev/null || true)
[ -n "$multiarch" ] || multiarch=$(uname -m)-linux-gnu

includes=""
for dir in "$@"; do
    includes="$includes -I$dir"
done

mkdir -p "$out"
count=0
for source in "$src"/*.bpf.c; do
    [ -e "$source" ] || continue
    name=$(basename "$source" .c)
    object="$out/$name.o"
    if [ -f "$object" ] && [ -z "$(find "$source" "$src" "$@" -newer "$object" \( -name '*.c' -o -name '*.h' \) 2>/dev/null | head -n 1)" ]; then
        continue
    fi
    # -g keeps BTF in the object: libbpf needs it for maps declared in SEC(".maps").
    # -fdebug-prefix-map keeps the build directory out of the object, so builds are reproducible.
    # shellcheck disable=SC2086
    if ! "$clang" -O2 -g -Wall -target bpf \
            -I"$src" $includes -I"/usr/include/$multiarch" \
            -fdebug-prefix-map="$(cd "$src" && pwd)"=. \
            -c "$source" -o "$object.tmp"; then
        rm -f "$object.tmp"
        echo "ERROR: clang could not compile $source (see its messages above). A missing <bpf/bpf_helpers.h>" >&2
        echo "       means libbpf-dev is not installed; a missing <linux/...> header means linux-libc-dev." >&2
        exit 1
    fi
    mv "$object.tmp" "$object"
    count=$((count + 1))
done
echo "compile-bpf: $count object(s) rebuilt in $out"
