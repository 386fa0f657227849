/*
 * Device-bound runs of an ONNX Runtime session for Java (JNI, class dev.loraort.kernels.BoundRun).
 *
 * ONNX Runtime's Java API has no IoBinding: every OrtSession.run copies each input from a Java
 * buffer to the GPU and each output back, and the CUDA EP's CUDA-graph mode (which needs inputs
 * and outputs at fixed device addresses) cannot be used. This file binds every input and output
 * of one run signature once: one pinned host block and one device block for the inputs, the same
 * for the outputs, each tensor a 256-byte-aligned slice. A run is then one host-to-device copy,
 * OrtApi::RunWithBinding (which replays the captured CUDA graph when the session enabled it) and
 * one device-to-host copy. On the CPU EP the host blocks are bound directly: no copy at all.
 *
 * The ONNX Runtime library is the one the Java API loaded (found among the process's loaded
 * libraries); the CUDA driver is loaded with dlopen, so building needs only a C compiler and the
 * JDK's jni.h. The OrtApi entries are declared by index in ort_api.h.
 */
#include <dlfcn.h>
#include <jni.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ort_api.h"

enum { ALIGN = 256 };

/* ---- CUDA driver API: the part used here ---- */
typedef int CUresult;
typedef int CUdevice;
typedef struct CUctx_st* CUcontext;
typedef unsigned long long CUdeviceptr;

static struct {
  CUresult (*cuInit)(unsigned flags);
  CUresult (*cuDeviceGet)(CUdevice* d, int ordinal);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext* c, CUdevice d);
  CUresult (*cuCtxSetCurrent)(CUcontext c);
  CUresult (*cuCtxSynchronize)(void);
  CUresult (*cuMemAlloc_v2)(CUdeviceptr* p, size_t bytes);
  CUresult (*cuMemFree_v2)(CUdeviceptr p);
  CUresult (*cuMemAllocHost_v2)(void** p, size_t bytes);
  CUresult (*cuMemFreeHost)(void* p);
  CUresult (*cuMemcpyHtoD_v2)(CUdeviceptr dst, const void* src, size_t bytes);
  CUresult (*cuMemcpyDtoH_v2)(void* dst, CUdeviceptr src, size_t bytes);
  CUresult (*cuGetErrorString)(CUresult r, const char** s);
  CUresult (*cuMemGetInfo_v2)(size_t* free, size_t* total);
} drv;
static int drv_loaded;

/* ---- errors: a Java IllegalStateException with the message ---- */

static void throw_state(JNIEnv* env, const char* what, const char* detail) {
  char text[2048];
  snprintf(text, sizeof text, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
  jclass c = (*env)->FindClass(env, "java/lang/IllegalStateException");
  if (c != NULL) (*env)->ThrowNew(env, c, text);
}

/* Throws the status's message (and releases it); returns 1 if there was an error. */
static int ort_failed(JNIEnv* env, const char* what, OrtStatus* s) {
  if (s == NULL) return 0;
  throw_state(env, what, ORT(GetErrorMessage)(s));
  ORT(ReleaseStatus)(s);
  return 1;
}

static int cuda_failed(JNIEnv* env, const char* what, CUresult r) {
  if (r == 0) return 0;
  const char* s = "unknown CUDA error";
  if (drv.cuGetErrorString != NULL) drv.cuGetErrorString(r, &s);
  throw_state(env, what, s);
  return 1;
}

/* ---- finding ONNX Runtime and the driver ---- */

static int find_ort(struct dl_phdr_info* info, size_t size, void* out) {
  (void)size;
  const char* slash = strrchr(info->dlpi_name, '/');
  const char* base = slash ? slash + 1 : info->dlpi_name;
  if (strncmp(base, "libonnxruntime.so", 17) == 0) {
    snprintf(out, 1024, "%s", info->dlpi_name);
    return 1;
  }
  return 0;
}

static int load_ort(JNIEnv* env) {
  if (api != NULL) return 1;
  char path[1024] = "";
  dl_iterate_phdr(find_ort, path);
  void* h = path[0] ? dlopen(path, RTLD_NOW | RTLD_NOLOAD) : NULL;
  const OrtApiBase* (*get_base)(void) = h ? (const OrtApiBase* (*)(void))dlsym(h, "OrtGetApiBase") : NULL;
  if (get_base == NULL) {
    throw_state(env, "ONNX Runtime is not loaded in this process (open a session first)", NULL);
    return 0;
  }
  api = get_base()->GetApi(API_VERSION);
  if (api == NULL) {
    throw_state(env, "this ONNX Runtime lacks the C API version the binding needs", NULL);
    return 0;
  }
  return 1;
}

#define DRV(lib, name)                                                         \
  do {                                                                         \
    *(void**)&drv.name = dlsym(lib, #name);                                    \
    if (drv.name == NULL) {                                                    \
      throw_state(env, "the CUDA driver has no symbol", #name);                \
      return 0;                                                                \
    }                                                                          \
  } while (0)

static int load_driver(JNIEnv* env) {
  if (drv_loaded) return 1;
  void* h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) h = dlopen("libcuda.so", RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    throw_state(env, "no CUDA driver (libcuda.so.1)", NULL);
    return 0;
  }
  DRV(h, cuInit);
  DRV(h, cuDeviceGet);
  DRV(h, cuDevicePrimaryCtxRetain);
  DRV(h, cuCtxSetCurrent);
  DRV(h, cuCtxSynchronize);
  DRV(h, cuMemAlloc_v2);
  DRV(h, cuMemFree_v2);
  DRV(h, cuMemAllocHost_v2);
  DRV(h, cuMemFreeHost);
  DRV(h, cuMemcpyHtoD_v2);
  DRV(h, cuMemcpyDtoH_v2);
  DRV(h, cuGetErrorString);
  DRV(h, cuMemGetInfo_v2);
  if (cuda_failed(env, "cuInit", drv.cuInit(0))) return 0;
  drv_loaded = 1;
  return 1;
}

/* ---- the device's memory in use (whole device, every process: what nvidia-smi shows) ---- */
JNIEXPORT jlong JNICALL Java_dev_loraort_kernels_BoundRun_deviceMemoryUsedNative(JNIEnv* env, jclass cls,
                                                                          jint device) {
  (void)cls;
  CUdevice d;
  CUcontext ctx;
  size_t free_bytes, total_bytes;
  /* the primary context is the one ONNX Runtime's CUDA EP runs in: retaining it here creates it
     if no session has yet, so a reading before any session already counts the context */
  if (!load_driver(env) || cuda_failed(env, "cuDeviceGet", drv.cuDeviceGet(&d, device)) ||
      cuda_failed(env, "cuDevicePrimaryCtxRetain", drv.cuDevicePrimaryCtxRetain(&ctx, d)) ||
      cuda_failed(env, "cuCtxSetCurrent", drv.cuCtxSetCurrent(ctx)) ||
      cuda_failed(env, "cuMemGetInfo", drv.cuMemGetInfo_v2(&free_bytes, &total_bytes))) {
    return -1;
  }
  return (jlong)(total_bytes - free_bytes);
}

/* ---- one bound run signature ---- */

typedef struct Side {
  size_t count;
  size_t bytes;           /* the block, every slice aligned */
  char* host;             /* pinned on CUDA */
  CUdeviceptr device;     /* == host on CPU */
  size_t* offset;         /* per tensor */
  size_t* size;           /* per tensor, bytes */
  OrtValue** values;
} Side;

typedef struct Bound {
  OrtSession* session;
  OrtRunOptions* run_options;
  OrtIoBinding* binding;
  OrtMemoryInfo* memory;
  int cuda;
  CUcontext ctx;
  Side in, out;
} Bound;

static size_t element_size(int type) {
  switch (type) {
    case TENSOR_FLOAT: case TENSOR_INT32: return 4;
    case TENSOR_INT64: return 8;
    default: return 0;
  }
}

static void free_side(Bound* b, Side* s) {
  for (size_t i = 0; s->values != NULL && i < s->count; i++) ORT(ReleaseValue)(s->values[i]);
  if (b->cuda) {
    if (s->device) drv.cuMemFree_v2(s->device);
    if (s->host) drv.cuMemFreeHost(s->host);
  } else {
    free(s->host);
  }
  free(s->offset);
  free(s->size);
  free(s->values);
}

static void destroy(Bound* b) {
  if (b->cuda && b->ctx) drv.cuCtxSetCurrent(b->ctx);
  if (b->binding) ORT(ReleaseIoBinding)(b->binding);
  free_side(b, &b->in);
  free_side(b, &b->out);
  if (b->memory) ORT(ReleaseMemoryInfo)(b->memory);
  free(b);
}

/* Lays out the side's tensors, allocates its blocks and wraps each slice as an OrtValue. */
static int make_side(JNIEnv* env, Bound* b, Side* s, jobjectArray names, jintArray types,
                     jobjectArray shapes, int outputs) {
  s->count = (size_t)(*env)->GetArrayLength(env, names);
  s->offset = calloc(s->count + 1, sizeof *s->offset);
  s->size = calloc(s->count + 1, sizeof *s->size);
  s->values = calloc(s->count + 1, sizeof *s->values);
  if (!s->offset || !s->size || !s->values) {
    throw_state(env, "out of memory", NULL);
    return 0;
  }
  jint* t = (*env)->GetIntArrayElements(env, types, NULL);
  for (size_t i = 0; i < s->count; i++) {
    jlongArray shape = (*env)->GetObjectArrayElement(env, shapes, (jsize)i);
    jsize rank = (*env)->GetArrayLength(env, shape);
    jlong* dims = (*env)->GetLongArrayElements(env, shape, NULL);
    size_t n = element_size(t[i]);
    for (jsize d = 0; d < rank; d++) n *= (size_t)dims[d];
    (*env)->ReleaseLongArrayElements(env, shape, dims, JNI_ABORT);
    s->offset[i] = s->bytes;
    s->size[i] = n;
    s->bytes += (n + ALIGN - 1) / ALIGN * ALIGN;
  }
  size_t block = s->bytes > 0 ? s->bytes : ALIGN;
  if (b->cuda) {
    if (cuda_failed(env, "cuMemAllocHost", drv.cuMemAllocHost_v2((void**)&s->host, block)) ||
        cuda_failed(env, "cuMemAlloc", drv.cuMemAlloc_v2(&s->device, block))) {
      (*env)->ReleaseIntArrayElements(env, types, t, JNI_ABORT);
      return 0;
    }
  } else {
    s->host = aligned_alloc(ALIGN, block);
    if (s->host == NULL) {
      (*env)->ReleaseIntArrayElements(env, types, t, JNI_ABORT);
      throw_state(env, "out of memory", NULL);
      return 0;
    }
    s->device = (CUdeviceptr)(uintptr_t)s->host;
  }
  memset(s->host, 0, block);
  int ok = 1;
  for (size_t i = 0; ok && i < s->count; i++) {
    jlongArray shape = (*env)->GetObjectArrayElement(env, shapes, (jsize)i);
    jsize rank = (*env)->GetArrayLength(env, shape);
    jlong* dims = (*env)->GetLongArrayElements(env, shape, NULL);
    jstring jname = (*env)->GetObjectArrayElement(env, names, (jsize)i);
    const char* name = (*env)->GetStringUTFChars(env, jname, NULL);
    void* data = (void*)(uintptr_t)(s->device + s->offset[i]);
    OrtStatus* st = ORT(CreateTensorWithDataAsOrtValue)(b->memory, data, s->size[i],
                                                         (const int64_t*)dims, (size_t)rank,
                                                         t[i], &s->values[i]);
    if (st == NULL) {
      st = outputs ? ORT(BindOutput)(b->binding, name, s->values[i])
                   : ORT(BindInput)(b->binding, name, s->values[i]);
    }
    if (st != NULL) {
      char what[512];
      snprintf(what, sizeof what, "binding %s %s", outputs ? "output" : "input", name);
      ort_failed(env, what, st);
      ok = 0;
    }
    (*env)->ReleaseStringUTFChars(env, jname, name);
    (*env)->ReleaseLongArrayElements(env, shape, dims, JNI_ABORT);
  }
  (*env)->ReleaseIntArrayElements(env, types, t, JNI_ABORT);
  return ok;
}

JNIEXPORT jlong JNICALL Java_dev_loraort_kernels_BoundRun_create(
    JNIEnv* env, jclass cls, jlong session, jlong run_options, jint device,
    jobjectArray input_names, jintArray input_types, jobjectArray input_shapes,
    jobjectArray output_names, jintArray output_types, jobjectArray output_shapes) {
  (void)cls;
  if (!load_ort(env)) return 0;
  Bound* b = calloc(1, sizeof *b);
  if (b == NULL) {
    throw_state(env, "out of memory", NULL);
    return 0;
  }
  b->session = (OrtSession*)(intptr_t)session;
  b->run_options = (OrtRunOptions*)(intptr_t)run_options;
  b->cuda = device >= 0;
  OrtStatus* s;
  if (b->cuda) {
    CUdevice d;
    if (!load_driver(env) || cuda_failed(env, "cuDeviceGet", drv.cuDeviceGet(&d, device)) ||
        cuda_failed(env, "cuDevicePrimaryCtxRetain", drv.cuDevicePrimaryCtxRetain(&b->ctx, d)) ||
        cuda_failed(env, "cuCtxSetCurrent", drv.cuCtxSetCurrent(b->ctx))) {
      destroy(b);
      return 0;
    }
    s = ORT(CreateMemoryInfo)("Cuda", ORT_DEVICE_ALLOCATOR, device, MEM_DEFAULT, &b->memory);
  } else {
    s = ORT(CreateCpuMemoryInfo)(ORT_DEVICE_ALLOCATOR, MEM_DEFAULT, &b->memory);
  }
  if (s == NULL) s = ORT(CreateIoBinding)(b->session, &b->binding);
  if (ort_failed(env, "creating the binding", s) ||
      !make_side(env, b, &b->in, input_names, input_types, input_shapes, 0) ||
      !make_side(env, b, &b->out, output_names, output_types, output_shapes, 1)) {
    destroy(b);
    return 0;
  }
  return (jlong)(intptr_t)b;
}

static jobject slice(JNIEnv* env, Side* s, jint i) {
  if (i < 0 || (size_t)i >= s->count) {
    throw_state(env, "no such bound tensor", NULL);
    return NULL;
  }
  return (*env)->NewDirectByteBuffer(env, s->host + s->offset[i], (jlong)s->size[i]);
}

JNIEXPORT jobject JNICALL Java_dev_loraort_kernels_BoundRun_input(JNIEnv* env, jclass c,
                                                                  jlong h, jint i) {
  (void)c;
  return slice(env, &((Bound*)(intptr_t)h)->in, i);
}

JNIEXPORT jobject JNICALL Java_dev_loraort_kernels_BoundRun_output(JNIEnv* env, jclass c,
                                                                   jlong h, jint i) {
  (void)c;
  return slice(env, &((Bound*)(intptr_t)h)->out, i);
}

JNIEXPORT void JNICALL Java_dev_loraort_kernels_BoundRun_run(JNIEnv* env, jclass c, jlong h) {
  (void)c;
  Bound* b = (Bound*)(intptr_t)h;
  if (b->cuda) {
    /* pinned host to device: synchronous for the host, so the run below sees the inputs */
    if (cuda_failed(env, "cuCtxSetCurrent", drv.cuCtxSetCurrent(b->ctx)) ||
        cuda_failed(env, "copying the inputs to the GPU",
                    drv.cuMemcpyHtoD_v2(b->in.device, b->in.host, b->in.bytes))) {
      return;
    }
  }
  if (ort_failed(env, "run", ORT(RunWithBinding)(b->session, b->run_options, b->binding))) return;
  if (b->cuda) {
    /* ONNX Runtime's stream does not synchronize with the default stream: wait for all */
    if (cuda_failed(env, "waiting for the run", drv.cuCtxSynchronize()) ||
        cuda_failed(env, "copying the outputs from the GPU",
                    drv.cuMemcpyDtoH_v2(b->out.host, b->out.device, b->out.bytes))) {
      return;
    }
  }
}

JNIEXPORT void JNICALL Java_dev_loraort_kernels_BoundRun_destroy(JNIEnv* env, jclass c, jlong h) {
  (void)env;
  (void)c;
  if (h != 0) destroy((Bound*)(intptr_t)h);
}
