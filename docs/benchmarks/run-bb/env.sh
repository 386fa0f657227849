# (run X's env.sh) sourced by every call that runs Java: the bundle's JRE, ONNX Runtime and CUDA 12 libraries, our jars
. /tmp/device-runtime/env.sh
mkdir -p /tmp/jars /tmp/testjars
[ -d .device-runtime/jars ] && cp .device-runtime/jars/* /tmp/jars/        # carried once, kept for later calls
[ -d .device-runtime/testjars ] && cp .device-runtime/testjars/* /tmp/testjars/
# the launcher's -cp does not expand a directory's "*" (run W): list the jars one by one
export CP="$ORT_JAR:$(ls /tmp/jars/*.jar | tr '\n' ':' | sed 's/:$//')"
