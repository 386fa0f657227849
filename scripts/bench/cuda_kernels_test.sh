#!/usr/bin/env bash
# Each CUDA kernel of the kernel library against its CPU kernel on the GPU (CudaKernelsTest, tag gpu),
# without Maven: JUnit's console launcher over graph-builder's test classes, for a GPU machine that has
# a JRE and ONNX Runtime's CUDA EP (the device runtime's env.sh) but no Maven. TESTJARS holds
# junit-platform-console-standalone-1.11.4.jar, assertj-core-3.27.3.jar, byte-buddy-1.18.14.jar and
# graph-builder-tests.jar (`jar cf graph-builder-tests.jar -C graph-builder/target/test-classes .`).
# The launcher's -cp does not expand a directory's "*": CP lists the trainer's jars one by one.
#   CP=<trainer classpath> TESTJARS=DIR bash scripts/bench/cuda_kernels_test.sh OUT_FILE
set -uo pipefail
out=${1:?OUT_FILE}; t=${TESTJARS:?TESTJARS}; : "${CP:?classpath}"
timeout 400 java ${ORT_JAVA_OPTS:-} -jar "$t/junit-platform-console-standalone-1.11.4.jar" execute --disable-banner \
  -cp "$CP:$t/graph-builder-tests.jar:$t/assertj-core-3.27.3.jar:$t/byte-buddy-1.18.14.jar" \
  --include-tag gpu --select-class dev.loraort.builder.autodiff.CudaKernelsTest --details tree > "$out" 2>&1
