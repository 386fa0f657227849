# sourced by every call that runs Java: the bundle's JRE, ONNX Runtime and CUDA 12 libraries, our jars
. /tmp/device-runtime/env.sh
mkdir -p /tmp/jars; [ -d .device-runtime/jars ] && cp .device-runtime/jars/* /tmp/jars/  # carried once, kept for later calls
export CP="$ORT_JAR:/tmp/jars/*"
