#!/usr/bin/env bash
# check_15_tsan.sh — the threads tests (8 threads sharing one model with
# cached features; 3 threads sharing the encoders on raw posts; a session
# each) built with -fsanitize=thread.  Sessions use 1 compute thread:
# libgomp and OpenBLAS are not TSan-instrumented, so races inside them would
# not be seen anyway, and their worker threads would only give false reports.
set -euo pipefail
B=${B:-build}
T=build-tsan
SAN="-fsanitize=thread -fno-omit-frame-pointer"
make -s B=$T OPT=-O1 SAN="$SAN" $T/libinfluencer_profiler.a
CPP="-Iinclude -Ilib -Ikernels -Itests -I/usr/include/x86_64-linux-gnu/openblas-openmp -I/usr/include/stb"
# Files with __attribute__((target_clones)) get IFUNC resolvers, which the
# dynamic loader runs before the TSan runtime is initialised: an instrumented
# resolver crashes at startup.  Those (stateless compute kernels) are rebuilt
# without TSan and replaced in the archive.
clones=$(grep -l target_clones lib/*.c kernels/*.c 2>/dev/null || true)
for f in $clones; do
  o=$T/obj/${f%.c}.o
  cc $CPP -DIPF_BUILDING_LIBRARY $(pkg-config --cflags icu-uc icu-i18n jansson 2>/dev/null) -std=gnu11 -O1 -g -fPIC \
    -fvisibility=hidden -fopenmp -c "$f" -o "$o"
  ar r $T/libinfluencer_profiler.a "$o"
done
LIBS="-ldnnl -L/usr/lib/x86_64-linux-gnu/openblas-openmp -Wl,-rpath,/usr/lib/x86_64-linux-gnu/openblas-openmp \
  -lopenblas -lsentencepiece -licui18n -licuuc -licudata -ljansson -lz -lgomp -lstdc++ -lm -lpthread"
cc $CPP -std=gnu11 -O1 -g -fopenmp $SAN -o $T/test_threads tests/runner.c tests/test_threads.c tests/test_util.c $T/libinfluencer_profiler.a $LIBS
# Goldens come from the plain build (make gen).
IPF_GOLDEN_DIR=${IPF_GOLDEN_DIR:-$B/goldens} IPF_TEST_LIGHT=1 OMP_NUM_THREADS=1 \
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ./$T/test_threads threads_
# The encoders shared by threads as well (full-size Inception-v3: ~15 s under TSan).
IPF_GOLDEN_DIR=${IPF_GOLDEN_DIR:-$B/goldens} OMP_NUM_THREADS=1 \
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ./$T/test_threads threads_shared_encoders
echo "check_tsan: ok"
