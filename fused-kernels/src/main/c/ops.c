/*
 * libloraort_kernels: the fused kernels as an ONNX Runtime custom-op library (domain dev.loraort).
 *
 * ONNX Runtime calls RegisterCustomOps for each session whose options register this library. The
 * session config entry "loraort.kernels.ep" says which kernels to register: "cpu" (the default)
 * or "cuda"; for CUDA, "loraort.kernels.device" names the GPU. CUDA kernels are compiled by NVRTC
 * here, at registration, and launched on ONNX Runtime's compute stream through the CUDA driver
 * API; both libraries are loaded with dlopen, so building needs no CUDA toolkit, and a machine
 * without them gets a registration error (the trainer then uses the plain graph).
 *
 * The ONNX Runtime declarations are in ort_api.h.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "ort_api.h"

#define EXPORT __attribute__((visibility("default")))

/* Returns from the calling function if an ONNX Runtime call failed. */
#define CHECK(call)             \
  do {                          \
    OrtStatus* s_ = (call);     \
    if (s_ != NULL) return s_;  \
  } while (0)

static OrtStatus* fail(const char* op, const char* message) {
  char text[1024];
  snprintf(text, sizeof text, "dev.loraort::%s: %s", op, message);
  return ORT(CreateStatus)(ORT_INVALID_ARGUMENT, text);
}

/* OrtCustomOp, through KernelComputeV2 (the fields ONNX Runtime reads for version 16). */
typedef struct OrtCustomOp {
  uint32_t version;
  void* (*CreateKernel)(const struct OrtCustomOp* op, const OrtApi* api, const OrtKernelInfo* i);
  const char* (*GetName)(const struct OrtCustomOp* op);
  const char* (*GetExecutionProviderType)(const struct OrtCustomOp* op);
  int (*GetInputType)(const struct OrtCustomOp* op, size_t index);
  size_t (*GetInputTypeCount)(const struct OrtCustomOp* op);
  int (*GetOutputType)(const struct OrtCustomOp* op, size_t index);
  size_t (*GetOutputTypeCount)(const struct OrtCustomOp* op);
  void (*KernelCompute)(void* kernel, OrtKernelContext* context);
  void (*KernelDestroy)(void* kernel);
  int (*GetInputCharacteristic)(const struct OrtCustomOp* op, size_t index);
  int (*GetOutputCharacteristic)(const struct OrtCustomOp* op, size_t index);
  int (*GetInputMemoryType)(const struct OrtCustomOp* op, size_t index);
  int (*GetVariadicInputMinArity)(const struct OrtCustomOp* op);
  int (*GetVariadicInputHomogeneity)(const struct OrtCustomOp* op);
  int (*GetVariadicOutputMinArity)(const struct OrtCustomOp* op);
  int (*GetVariadicOutputHomogeneity)(const struct OrtCustomOp* op);
  OrtStatus* (*CreateKernelV2)(const struct OrtCustomOp* op, const OrtApi* api,
                               const OrtKernelInfo* info, void** kernel);
  OrtStatus* (*KernelComputeV2)(void* kernel, OrtKernelContext* context);
} OrtCustomOp;

/* ---- CUDA driver API and NVRTC, loaded at registration ---- */

typedef int CUresult;
typedef int CUdevice;
typedef struct CUctx_st* CUcontext;
typedef struct CUmod_st* CUmodule;
typedef struct CUfunc_st* CUfunction;
typedef struct CUstream_st* CUstream;
typedef struct _nvrtcProgram* nvrtcProgram;
enum { CC_MAJOR = 75, CC_MINOR = 76 }; /* CUdevice_attribute */

static struct {
  CUresult (*cuInit)(unsigned flags);
  CUresult (*cuDeviceGet)(CUdevice* d, int ordinal);
  CUresult (*cuDeviceGetAttribute)(int* v, int attribute, CUdevice d);
  CUresult (*cuCtxGetCurrent)(CUcontext* c);
  CUresult (*cuModuleLoadData)(CUmodule* m, const void* image);
  CUresult (*cuModuleGetFunction)(CUfunction* f, CUmodule m, const char* name);
  CUresult (*cuLaunchKernel)(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                             unsigned by, unsigned bz, unsigned shared, CUstream s, void** args,
                             void** extra);
  CUresult (*cuGetErrorString)(CUresult r, const char** s);
  int (*nvrtcCreateProgram)(nvrtcProgram* p, const char* src, const char* name, int n,
                            const char* const* headers, const char* const* names);
  int (*nvrtcCompileProgram)(nvrtcProgram p, int n, const char* const* options);
  int (*nvrtcGetPTXSize)(nvrtcProgram p, size_t* size);
  int (*nvrtcGetPTX)(nvrtcProgram p, char* ptx);
  int (*nvrtcGetProgramLogSize)(nvrtcProgram p, size_t* size);
  int (*nvrtcGetProgramLog)(nvrtcProgram p, char* log);
  int (*nvrtcDestroyProgram)(nvrtcProgram* p);
} cu;

/* One CUDA kernel per op; ops of one name and another type are separate entries. */
enum {
  GELU,
  GELU_TANH,
  LAYER_NORM,
  SOFTMAX_GRAD,
  SOFTMAX_GRAD_BF16,
  SOFTMAX_BF16,
  GELU_BF16,
  GELU_GRAD_BF16,
  GELU_TANH_GRAD_BF16,
  CROSS_ENTROPY,
  CROSS_ENTROPY_BF16,
  CROSS_ENTROPY_GRAD,
  CROSS_ENTROPY_GRAD_BF16,
  SWISH_GRAD,
  SWISH_BF16,
  SWISH_GRAD_BF16,
  LAYER_NORM_BF16_DY,
  LAYER_NORM_BF16,
  RMS_NORM_GRAD,
  RMS_NORM_GRAD_BF16_DY,
  RMS_NORM_BF16,
  KERNELS
};
static const char* const KERNEL_NAMES[KERNELS] = {
    "gelu_grad",         "gelu_tanh_grad", "layer_norm_grad", "softmax_grad",  "softmax_grad_bf16",
    "softmax_bf16",      "gelu_bf16",      "gelu_grad_bf16",  "gelu_grad_bf16",
    "cross_entropy",     "cross_entropy",  "cross_entropy_grad", "cross_entropy_grad",
    "swish_grad",        "swish_bf16",     "swish_grad_bf16", "layer_norm_grad", "layer_norm_bf16",
    "rms_norm_grad",     "rms_norm_grad",  "rms_norm_bf16"};

static pthread_mutex_t cuda_lock = PTHREAD_MUTEX_INITIALIZER;
static char* ptx;                 /* NVRTC's output, compiled once per process */
static char cuda_error[2048];     /* why CUDA kernels cannot be registered, when they cannot */
/* Modules loaded per CUDA context (one per GPU the process uses). */
static struct {
  CUcontext ctx;
  CUfunction fn[KERNELS];
} modules[16];
static int module_count;

static void* open_first(const char* const* names, char* tried, size_t tried_size) {
  for (int i = 0; names[i] != NULL; i++) {
    if (names[i][0] == '\0') continue;
    void* h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (h != NULL) return h;
    size_t used = strlen(tried);
    snprintf(tried + used, tried_size - used, "%s%s", used ? ", " : "", names[i]);
  }
  return NULL;
}

#define SYM(lib, name)                                                              \
  do {                                                                              \
    *(void**)&cu.name = dlsym(lib, #name);                                          \
    if (cu.name == NULL) {                                                          \
      snprintf(cuda_error, sizeof cuda_error, "%s has no symbol %s", #lib, #name); \
      return 0;                                                                     \
    }                                                                               \
  } while (0)

/* Loads the driver and NVRTC and compiles the kernels for the given GPU; 0 with cuda_error set
 * when something is missing. Called with cuda_lock held. */
static int cuda_init(int device) {
  if (ptx != NULL) return 1;
  char tried[1024] = "";
  const char* driver_names[] = {"libcuda.so.1", "libcuda.so", NULL};
  void* libcuda = open_first(driver_names, tried, sizeof tried);
  if (libcuda == NULL) {
    snprintf(cuda_error, sizeof cuda_error, "no CUDA driver (tried %s)", tried);
    return 0;
  }
  char home_lib[512] = "";
  const char* home = getenv("CUDA_HOME");
  if (home != NULL) snprintf(home_lib, sizeof home_lib, "%s/lib64/libnvrtc.so", home);
  const char* env = getenv("LORAORT_NVRTC");
  const char* nvrtc_names[] = {env != NULL ? env : "",
                               "libnvrtc.so",
                               "libnvrtc.so.13",
                               "libnvrtc.so.12",
                               home_lib,
                               "/usr/local/cuda/lib64/libnvrtc.so",
                               "/usr/local/cuda/lib64/libnvrtc.so.13",
                               "/usr/local/cuda/lib64/libnvrtc.so.12",
                               NULL};
  tried[0] = '\0';
  void* libnvrtc = open_first(nvrtc_names, tried, sizeof tried);
  if (libnvrtc == NULL) {
    snprintf(cuda_error, sizeof cuda_error,
             "no NVRTC library (tried %s; set LORAORT_NVRTC to a libnvrtc.so.12 or newer, e.g. "
             "from the Maven artifact org.bytedeco:cuda-redist)",
             tried);
    return 0;
  }
  SYM(libcuda, cuInit);
  SYM(libcuda, cuDeviceGet);
  SYM(libcuda, cuDeviceGetAttribute);
  SYM(libcuda, cuCtxGetCurrent);
  SYM(libcuda, cuModuleLoadData);
  SYM(libcuda, cuModuleGetFunction);
  SYM(libcuda, cuLaunchKernel);
  SYM(libcuda, cuGetErrorString);
  SYM(libnvrtc, nvrtcCreateProgram);
  SYM(libnvrtc, nvrtcCompileProgram);
  SYM(libnvrtc, nvrtcGetPTXSize);
  SYM(libnvrtc, nvrtcGetPTX);
  SYM(libnvrtc, nvrtcGetProgramLogSize);
  SYM(libnvrtc, nvrtcGetProgramLog);
  SYM(libnvrtc, nvrtcDestroyProgram);
  CUdevice dev;
  int major = 0, minor = 0;
  if (cu.cuInit(0) != 0 || cu.cuDeviceGet(&dev, device) != 0 ||
      cu.cuDeviceGetAttribute(&major, CC_MAJOR, dev) != 0 ||
      cu.cuDeviceGetAttribute(&minor, CC_MINOR, dev) != 0) {
    snprintf(cuda_error, sizeof cuda_error, "CUDA device %d not usable", device);
    return 0;
  }
  char arch[64];
  snprintf(arch, sizeof arch, "--gpu-architecture=compute_%d%d", major, minor);
  const char* options[] = {arch};
  nvrtcProgram prog;
  if (cu.nvrtcCreateProgram(&prog, LORAORT_CUDA_SOURCE, "loraort_kernels.cu", 0, NULL, NULL)) {
    snprintf(cuda_error, sizeof cuda_error, "nvrtcCreateProgram failed");
    return 0;
  }
  int rc = cu.nvrtcCompileProgram(prog, 1, options);
  size_t size = 0;
  if (rc != 0) {
    cu.nvrtcGetProgramLogSize(prog, &size);
    char* log = calloc(size + 1, 1);
    if (log != NULL) cu.nvrtcGetProgramLog(prog, log);
    snprintf(cuda_error, sizeof cuda_error, "NVRTC could not compile the kernels (%s): %s", arch,
             log != NULL ? log : "");
    free(log);
    cu.nvrtcDestroyProgram(&prog);
    return 0;
  }
  cu.nvrtcGetPTXSize(prog, &size);
  char* out = malloc(size);
  if (out == NULL || cu.nvrtcGetPTX(prog, out) != 0) {
    free(out);
    cu.nvrtcDestroyProgram(&prog);
    snprintf(cuda_error, sizeof cuda_error, "nvrtcGetPTX failed");
    return 0;
  }
  cu.nvrtcDestroyProgram(&prog);
  ptx = out;
  return 1;
}

/* The kernels in the calling thread's current context (ONNX Runtime's), loaded on first use. */
static OrtStatus* cuda_functions(const char* op, CUfunction** out) {
  CUcontext ctx = NULL;
  if (cu.cuCtxGetCurrent(&ctx) != 0 || ctx == NULL) {
    return fail(op, "no current CUDA context in ONNX Runtime's compute thread");
  }
  pthread_mutex_lock(&cuda_lock);
  for (int i = 0; i < module_count; i++) {
    if (modules[i].ctx == ctx) {
      *out = modules[i].fn;
      pthread_mutex_unlock(&cuda_lock);
      return NULL;
    }
  }
  char message[512] = "";
  CUmodule m;
  CUresult r = module_count == 16 ? -1 : cu.cuModuleLoadData(&m, ptx);
  for (int k = 0; r == 0 && k < KERNELS; k++) {
    r = cu.cuModuleGetFunction(&modules[module_count].fn[k], m, KERNEL_NAMES[k]);
  }
  if (r == 0) {
    modules[module_count].ctx = ctx;
    *out = modules[module_count++].fn;
  } else {
    const char* s = "too many CUDA contexts";
    if (r > 0) cu.cuGetErrorString(r, &s);
    snprintf(message, sizeof message, "loading the NVRTC-compiled kernels failed: %s", s);
  }
  pthread_mutex_unlock(&cuda_lock);
  return message[0] ? fail(op, message) : NULL;
}

static OrtStatus* launch(const char* op, const OrtKernelContext* context, int kernel,
                         unsigned blocks, unsigned threads, void** args) {
  CUfunction* fn;
  CHECK(cuda_functions(op, &fn));
  void* stream = NULL;
  CHECK(ORT(KernelContext_GetGPUComputeStream)(context, &stream));
  CUresult r = cu.cuLaunchKernel(fn[kernel], blocks, 1, 1, threads, 1, 1, 0, (CUstream)stream,
                                 args, NULL);
  if (r != 0) {
    const char* s = "unknown error";
    cu.cuGetErrorString(r, &s);
    return fail(op, s);
  }
  return NULL;
}

/* ---- The ops ---- */

typedef struct Op {
  OrtCustomOp base; /* first: ONNX Runtime's pointer to the op is a pointer to this */
  const char* name;
  int kernel;
  size_t inputs;
  size_t required; /* the first inputs; the rest are optional */
  int types[5];    /* of each input: TENSOR_FLOAT, TENSOR_BFLOAT16 or TENSOR_INT64 */
  size_t outputs;
  int out_types[3];
  int cuda;
} Op;

/* One node's kernel: its op, its scale and alpha attributes (1 when absent), the norms' epsilon
 * (1e-5; RMSNorm's 1e-6), GELU's form (1: tanh), the cross-entropy's shift (0 when absent). */
typedef struct Kernel {
  const Op* op;
  float scale;
  float alpha;
  float epsilon;
  int tanh_form;
  int shift;
} Kernel;

typedef struct Input {
  void* data;
  int64_t dims[8];
  size_t rank;
  int64_t count;
} Input;

static OrtStatus* input(OrtKernelContext* c, const Op* op, size_t i, Input* in) {
  const OrtValue* v = NULL;
  CHECK(ORT(KernelContext_GetInput)(c, i, &v));
  OrtTensorTypeAndShapeInfo* info;
  CHECK(ORT(GetTensorTypeAndShape)(v, &info));
  int type = 0;
  OrtStatus* s = ORT(GetTensorElementType)(info, &type);
  if (s == NULL) s = ORT(GetDimensionsCount)(info, &in->rank);
  if (s == NULL && in->rank > 8) s = fail(op->name, "inputs of rank > 8 are not supported");
  if (s == NULL) s = ORT(GetDimensions)(info, in->dims, in->rank);
  ORT(ReleaseTensorTypeAndShapeInfo)(info);
  if (s != NULL) return s;
  if (type != op->types[i]) {
    char m[64];
    snprintf(m, sizeof m, "input %zu must be %s", i,
             op->types[i] == TENSOR_FLOAT    ? "float32"
             : op->types[i] == TENSOR_INT64 ? "int64"
                                             : "bfloat16");
    return fail(op->name, m);
  }
  in->count = 1;
  for (size_t d = 0; d < in->rank; d++) in->count *= in->dims[d];
  return ORT(GetTensorMutableData)((OrtValue*)v, (void**)&in->data);
}

/* Softmax's mask against X: right-aligned, each axis 1 or X's; X of rank <= 4. */
static OrtStatus* mask_layout(const Op* op, const Input* x, const Input* m, loraort_mask* out) {
  if (x->rank > 4 || m->rank > x->rank) {
    return fail(op->name, "a mask needs X of rank <= 4 and no more axes than X");
  }
  int64_t xd[4] = {1, 1, 1, 1}, md[4] = {1, 1, 1, 1}, stride[4];
  for (size_t i = 0; i < x->rank; i++) xd[4 - x->rank + i] = x->dims[i];
  for (size_t i = 0; i < m->rank; i++) md[4 - m->rank + i] = m->dims[i];
  int64_t s = 1;
  for (int a = 3; a >= 0; a--) {
    if (md[a] != 1 && md[a] != xd[a]) {
      return fail(op->name, "the mask does not broadcast against X");
    }
    stride[a] = md[a] == 1 ? 0 : s;
    s *= md[a];
  }
  *out = (loraort_mask){xd[1], xd[2], stride[0], stride[1], stride[2], stride[3]};
  return NULL;
}

static OrtStatus* output(OrtKernelContext* c, size_t i, const int64_t* dims, size_t rank,
                         void** data) {
  OrtValue* v;
  CHECK(ORT(KernelContext_GetOutput)(c, i, dims, rank, &v));
  return ORT(GetTensorMutableData)(v, data);
}

/* SoftmaxCrossEntropy (Logits, Labels) and its gradient (dLoss, Logits, Labels, LogSumExp). */
static OrtStatus* cross_entropy(const Kernel* kernel, OrtKernelContext* c, Input* in) {
  const Op* op = kernel->op;
  int grad = op->kernel == CROSS_ENTROPY_GRAD || op->kernel == CROSS_ENTROPY_GRAD_BF16;
  int bf16 = op->kernel == CROSS_ENTROPY_BF16 || op->kernel == CROSS_ENTROPY_GRAD_BF16;
  int shift = kernel->shift;
  Input* x = &in[grad];
  Input* labels = &in[grad + 1];
  int64_t v = x->rank > 0 ? x->dims[x->rank - 1] : 0;
  if (v < 1) return fail(op->name, "Logits needs a last axis (the classes) of at least 1");
  int64_t rows = x->count / v;
  int64_t seq = labels->rank > 0 ? labels->dims[labels->rank - 1] : 1;
  if (labels->count != rows) {
    return fail(op->name, "Labels must hold one label per row of Logits (its axes but the last)");
  }
  if (grad && (in[0].count != rows || in[3].count != rows)) {
    return fail(op->name, "dLoss and LogSumExp must hold one value per row of Logits");
  }
  void* out[2];
  for (size_t k = 0; k < op->outputs; k++) {
    CHECK(output(c, k, x->dims, grad ? x->rank : x->rank - 1, &out[k]));
  }
  if (rows == 0) return NULL;
  if (!op->cuda) {
    if (grad) {
      loraort_cross_entropy_grad_cpu(in[0].data, x->data, bf16, labels->data, in[3].data, out[0],
                                     rows, v, seq, shift);
      return NULL;
    }
    int64_t bad = loraort_cross_entropy_cpu(x->data, bf16, labels->data, out[0], out[1], rows, v,
                                            seq, shift);
    if (bad < 0) return NULL;
    char m[256];
    snprintf(m, sizeof m, "row %lld's label %lld is outside [0, %lld), the classes of Logits",
             (long long)bad, (long long)loraort_row_label(labels->data, bad, seq, shift),
             (long long)v);
    return fail(op->name, m);
  }
  if (rows > 0x7fffffff) return fail(op->name, "tensor too large");
  long long vv = v, ss = seq;
  unsigned threads = loraort_row_threads(v);
  if (grad) {
    void* args[] = {&in[0].data, &x->data, &bf16, &labels->data, &in[3].data, &out[0], &vv, &ss,
                    &shift};
    return launch(op->name, c, op->kernel, (unsigned)rows, threads, args);
  }
  void* args[] = {&x->data, &bf16, &labels->data, &out[0], &out[1], &vv, &ss, &shift};
  return launch(op->name, c, op->kernel, (unsigned)rows, threads, args);
}

/* The library's LayerNormalization: X, Scale [, Bias] float32 -> Y bfloat16, Mean, InvStdDev. */
static OrtStatus* layer_norm(const Kernel* kernel, OrtKernelContext* c, Input* in, size_t given) {
  const Op* op = kernel->op;
  Input* x = &in[0];
  int64_t h = x->rank > 0 ? x->dims[x->rank - 1] : 0;
  int64_t rows = h > 0 ? x->count / h : 0;
  const void* bias = given > 2 ? in[2].data : NULL;
  if (in[1].count != h || (bias != NULL && in[2].count != h)) {
    return fail(op->name, "Scale and Bias must hold one value per element of the last axis");
  }
  int64_t stat[8];
  memcpy(stat, x->dims, x->rank * sizeof *stat);
  if (x->rank > 0) stat[x->rank - 1] = 1;
  void *y, *mean, *inv_std;
  CHECK(output(c, 0, x->dims, x->rank, &y));
  CHECK(output(c, 1, stat, x->rank, &mean));
  CHECK(output(c, 2, stat, x->rank, &inv_std));
  if (rows == 0) return NULL;
  if (!op->cuda) {
    loraort_layer_norm_bf16_cpu(x->data, in[1].data, bias, y, mean, inv_std, rows, h,
                                kernel->epsilon);
    return NULL;
  }
  if (rows > 0x7fffffff || h > 0x7fffffff) return fail(op->name, "tensor too large");
  int hi = (int)h;
  float epsilon = kernel->epsilon;
  void* args[] = {&x->data, &in[1].data, &bias, &y, &mean, &inv_std, &hi, &epsilon};
  return launch(op->name, c, LAYER_NORM_BF16, (unsigned)rows, loraort_row_threads(h), args);
}

static OrtStatus* compute(void* kernel_state, OrtKernelContext* c) {
  const Kernel* kernel = kernel_state;
  const Op* op = kernel->op;
  float scale = kernel->scale;
  int tanh_form = op->kernel == GELU_TANH_GRAD_BF16 || kernel->tanh_form;
  size_t given = 0;
  CHECK(ORT(KernelContext_GetInputCount)(c, &given));
  if (given < op->required || given > op->inputs) {
    return fail(op->name, "wrong number of inputs");
  }
  Input in[5] = {{0}};
  for (size_t i = 0; i < given; i++) {
    CHECK(input(c, op, i, &in[i]));
  }
  if (op->kernel >= CROSS_ENTROPY && op->kernel <= CROSS_ENTROPY_GRAD_BF16) {
    return cross_entropy(kernel, c, in);
  }
  if (op->kernel == LAYER_NORM_BF16) return layer_norm(kernel, c, in, given);
  int dy_bf16 = op->kernel == LAYER_NORM_BF16_DY || op->kernel == RMS_NORM_GRAD_BF16_DY;
  int64_t n = in[0].count;
  int64_t h = in[0].rank > 0 ? in[0].dims[in[0].rank - 1] : 1;
  int64_t rows = h > 0 ? n / h : 0;
  loraort_mask mask = {1, 1, 0, 0, 0, 0};
  const void* mask_data = NULL;
  if (op->kernel == SOFTMAX_BF16) {
    if (given > 1 && in[1].data != NULL) {
      CHECK(mask_layout(op, &in[0], &in[1], &mask));
      mask_data = in[1].data;
    }
  } else if (op->kernel == RMS_NORM_BF16) {
    if (in[1].count != h) return fail(op->name, "Scale must hold one value per element of the last axis");
  } else if (op->inputs > 1 && in[1].count != n) {
    return fail(op->name, "the first two inputs differ in size");
  }
  if ((op->kernel == LAYER_NORM || op->kernel == LAYER_NORM_BF16_DY) &&
      (in[2].count != h || in[3].count != rows || in[4].count != rows)) {
    return fail(op->name,
                "Scale must hold one value per element of the last axis, Mean and InvStdDev one "
                "per row");
  }
  void* out;
  CHECK(output(c, 0, in[0].dims, in[0].rank, &out));
  if (n == 0) return NULL;
  if (!op->cuda) {
    switch (op->kernel) {
      case GELU: loraort_gelu_grad_cpu(in[0].data, in[1].data, out, n); break;
      case GELU_TANH: loraort_gelu_tanh_grad_cpu(in[0].data, in[1].data, out, n); break;
      case SWISH_GRAD: loraort_swish_grad_cpu(in[0].data, in[1].data, out, n, kernel->alpha); break;
      case SWISH_BF16: loraort_swish_bf16_cpu(in[0].data, out, n, kernel->alpha); break;
      case SWISH_GRAD_BF16:
        loraort_swish_grad_bf16_cpu(in[0].data, in[1].data, out, n, kernel->alpha);
        break;
      case LAYER_NORM:
      case LAYER_NORM_BF16_DY:
        loraort_layer_norm_grad_cpu(in[0].data, dy_bf16, in[1].data, in[2].data, in[3].data,
                                    in[4].data, out, rows, h);
        break;
      case SOFTMAX_GRAD: loraort_softmax_grad_cpu(in[0].data, in[1].data, out, rows, h, scale); break;
      case RMS_NORM_GRAD:
      case RMS_NORM_GRAD_BF16_DY:
        loraort_rms_norm_grad_cpu(in[0].data, dy_bf16, in[1].data, out, rows, h, kernel->epsilon);
        break;
      case RMS_NORM_BF16:
        loraort_rms_norm_bf16_cpu(in[0].data, in[1].data, out, rows, h, kernel->epsilon);
        break;
      case SOFTMAX_GRAD_BF16:
        loraort_softmax_grad_bf16_cpu(in[0].data, in[1].data, out, rows, h, scale);
        break;
      case GELU_BF16: loraort_gelu_bf16_cpu(in[0].data, out, n, tanh_form); break;
      case GELU_GRAD_BF16:
      case GELU_TANH_GRAD_BF16:
        loraort_gelu_grad_bf16_cpu(in[0].data, in[1].data, out, n, tanh_form);
        break;
      case SOFTMAX_BF16:
        loraort_softmax_bf16_cpu(in[0].data, mask_data, mask, out, rows, h, scale);
        break;
      default: return fail(op->name, "no CPU kernel for this op");
    }
    return NULL;
  }
  if (rows > 0x7fffffff || h > 0x7fffffff) return fail(op->name, "tensor too large");
  int hi = (int)h;
  long long nn = n;
  unsigned eb = loraort_elementwise_blocks(n), et = LORAORT_ELEMENTWISE_THREADS;
  if (op->kernel == GELU || op->kernel == GELU_TANH) {
    void* args[] = {&in[0].data, &in[1].data, &out, &nn};
    return launch(op->name, c, op->kernel, eb, et, args);
  }
  float alpha = kernel->alpha;
  if (op->kernel == SWISH_GRAD || op->kernel == SWISH_GRAD_BF16) {
    void* args[] = {&in[0].data, &in[1].data, &out, &nn, &alpha};
    return launch(op->name, c, op->kernel, eb, et, args);
  }
  if (op->kernel == SWISH_BF16) {
    void* args[] = {&in[0].data, &out, &nn, &alpha};
    return launch(op->name, c, SWISH_BF16, eb, et, args);
  }
  if (op->kernel == GELU_BF16) {
    void* args[] = {&in[0].data, &out, &nn, &tanh_form};
    return launch(op->name, c, GELU_BF16, eb, et, args);
  }
  if (op->kernel == GELU_GRAD_BF16 || op->kernel == GELU_TANH_GRAD_BF16) {
    void* args[] = {&in[0].data, &in[1].data, &out, &nn, &tanh_form};
    return launch(op->name, c, op->kernel, eb, et, args);
  }
  unsigned threads = loraort_row_threads(h);
  if (op->kernel == LAYER_NORM || op->kernel == LAYER_NORM_BF16_DY) {
    void* args[] = {&in[0].data, &dy_bf16,    &in[1].data, &in[2].data,
                    &in[3].data, &in[4].data, &out,        &hi};
    return launch(op->name, c, op->kernel, (unsigned)rows, threads, args);
  }
  float epsilon = kernel->epsilon;
  if (op->kernel == RMS_NORM_GRAD || op->kernel == RMS_NORM_GRAD_BF16_DY) {
    void* args[] = {&in[0].data, &dy_bf16, &in[1].data, &out, &hi, &epsilon};
    return launch(op->name, c, op->kernel, (unsigned)rows, threads, args);
  }
  if (op->kernel == RMS_NORM_BF16) {
    void* args[] = {&in[0].data, &in[1].data, &out, &hi, &epsilon};
    return launch(op->name, c, RMS_NORM_BF16, (unsigned)rows, threads, args);
  }
  if (op->kernel == SOFTMAX_GRAD) {
    void* args[] = {&in[0].data, &in[1].data, &out, &hi, &scale};
    return launch(op->name, c, SOFTMAX_GRAD, (unsigned)rows, threads, args);
  }
  long long rr = rows;
  unsigned blocks = loraort_warp_row_blocks(rows), wt = LORAORT_WARP_ROW_THREADS;
  if (op->kernel == SOFTMAX_GRAD_BF16) {
    void* args[] = {&in[0].data, &in[1].data, &out, &rr, &hi, &scale};
    return launch(op->name, c, SOFTMAX_GRAD_BF16, blocks, wt, args);
  }
  if (op->kernel == SOFTMAX_BF16) {
    void* args[] = {&in[0].data, &mask_data, &mask, &out, &rr, &hi, &scale};
    return launch(op->name, c, SOFTMAX_BF16, blocks, wt, args);
  }
  return fail(op->name, "no CUDA kernel for this op");
}

static const char* op_name(const OrtCustomOp* op) { return ((const Op*)op)->name; }
static const char* op_ep_cpu(const OrtCustomOp* op) { (void)op; return "CPUExecutionProvider"; }
static const char* op_ep_cuda(const OrtCustomOp* op) { (void)op; return "CUDAExecutionProvider"; }
static int op_type(const OrtCustomOp* op, size_t i) { return ((const Op*)op)->types[i]; }
static int op_out_type(const OrtCustomOp* op, size_t i) { return ((const Op*)op)->out_types[i]; }
static size_t op_inputs(const OrtCustomOp* op) { return ((const Op*)op)->inputs; }
static size_t op_outputs(const OrtCustomOp* op) { return ((const Op*)op)->outputs; }
static int op_required(const OrtCustomOp* op, size_t i) { (void)op; (void)i; return IO_REQUIRED; }
static int op_input_kind(const OrtCustomOp* op, size_t i) {
  return i < ((const Op*)op)->required ? IO_REQUIRED : IO_OPTIONAL;
}
static int op_mem(const OrtCustomOp* op, size_t i) { (void)op; (void)i; return MEM_DEFAULT; }
static int op_arity(const OrtCustomOp* op) { (void)op; return 1; }
static int op_homogeneous(const OrtCustomOp* op) { (void)op; return 1; }
static OrtStatus* op_create2(const OrtCustomOp* op, const OrtApi* a, const OrtKernelInfo* info,
                             void** kernel) {
  (void)a;
  Kernel* k = malloc(sizeof *k);
  if (k == NULL) return fail(((const Op*)op)->name, "out of memory");
  k->op = (const Op*)op;
  k->scale = 1.0f;
  k->alpha = 1.0f;
  int rms = ((const Op*)op)->kernel >= RMS_NORM_GRAD && ((const Op*)op)->kernel <= RMS_NORM_BF16;
  k->epsilon = rms ? 1e-6f : 1e-5f;
  k->tanh_form = 0;
  k->shift = 0;
  int64_t shift;
  OrtStatus* s = ORT(KernelInfoGetAttribute_int64)(info, "shift", &shift);
  if (s == NULL) {
    k->shift = shift != 0;
  } else {
    ORT(ReleaseStatus)(s); /* no such attribute */
  }
  float scale;
  s = ORT(KernelInfoGetAttribute_float)(info, "scale", &scale);
  if (s == NULL) {
    k->scale = scale;
  } else {
    ORT(ReleaseStatus)(s); /* no such attribute */
  }
  float alpha;
  s = ORT(KernelInfoGetAttribute_float)(info, "alpha", &alpha);
  if (s == NULL) {
    k->alpha = alpha;
  } else {
    ORT(ReleaseStatus)(s);
  }
  float epsilon;
  s = ORT(KernelInfoGetAttribute_float)(info, "epsilon", &epsilon);
  if (s == NULL) {
    k->epsilon = epsilon;
  } else {
    ORT(ReleaseStatus)(s);
  }
  char approximate[16];
  size_t size = sizeof approximate;
  s = ORT(KernelInfoGetAttribute_string)(info, "approximate", approximate, &size);
  if (s == NULL) {
    k->tanh_form = strcmp(approximate, "tanh") == 0;
  } else {
    ORT(ReleaseStatus)(s); /* absent (or not a GELU form this library knows): exact */
  }
  *kernel = k;
  return NULL;
}
static void* op_create(const OrtCustomOp* op, const OrtApi* a, const OrtKernelInfo* i) {
  void* kernel = NULL;
  OrtStatus* s = op_create2(op, a, i, &kernel);
  if (s != NULL) ORT(ReleaseStatus)(s);
  return kernel;
}
static void op_destroy(void* kernel) { free(kernel); }

#define UNPACK(...) __VA_ARGS__
/* An op of n inputs (the first req required) of the given types, (t0, t1, ...), and o outputs. */
#define OPT(ep, nm, k, n, req, types, o, out_types)                                                \
  {{API_VERSION, op_create, op_name, op_ep_##ep, op_type, op_inputs, op_out_type, op_outputs,    \
    NULL, op_destroy, op_input_kind, op_required, op_mem, op_arity, op_homogeneous, op_arity,    \
    op_homogeneous, op_create2, compute},                                                        \
   nm, k, n, req, {UNPACK types}, o, {UNPACK out_types}, 0}
/* ... whose inputs and one output are all of type t */
#define OP(ep, nm, k, n, req, t) OPT(ep, nm, k, n, req, (t, t, t, t, t), 1, (t))

/* ONNX Runtime merges ops of one name into one schema and picks the kernel by input type. */
#define OPS(ep)                                                                   \
  {OP(ep, "GeluGrad", GELU, 2, 2, TENSOR_FLOAT),                                  \
   OP(ep, "GeluTanhGrad", GELU_TANH, 2, 2, TENSOR_FLOAT),                         \
   OP(ep, "LayerNormalizationGrad", LAYER_NORM, 5, 5, TENSOR_FLOAT),              \
   OP(ep, "SoftmaxGrad", SOFTMAX_GRAD, 2, 2, TENSOR_FLOAT),                       \
   OP(ep, "SoftmaxGrad", SOFTMAX_GRAD_BF16, 2, 2, TENSOR_BFLOAT16),               \
   OP(ep, "Softmax", SOFTMAX_BF16, 2, 1, TENSOR_BFLOAT16),                        \
   OP(ep, "Gelu", GELU_BF16, 1, 1, TENSOR_BFLOAT16),                              \
   OP(ep, "GeluGrad", GELU_GRAD_BF16, 2, 2, TENSOR_BFLOAT16),                     \
   OP(ep, "GeluTanhGrad", GELU_TANH_GRAD_BF16, 2, 2, TENSOR_BFLOAT16),                 \
   OPT(ep, "SoftmaxCrossEntropy", CROSS_ENTROPY, 2, 2, (TENSOR_FLOAT, TENSOR_INT64), 2,      \
       (TENSOR_FLOAT, TENSOR_FLOAT)),                                                      \
   OPT(ep, "SoftmaxCrossEntropy", CROSS_ENTROPY_BF16, 2, 2, (TENSOR_BFLOAT16, TENSOR_INT64), \
       2, (TENSOR_FLOAT, TENSOR_FLOAT)),                                                   \
   OPT(ep, "SoftmaxCrossEntropyGrad", CROSS_ENTROPY_GRAD, 4, 4,                            \
       (TENSOR_FLOAT, TENSOR_FLOAT, TENSOR_INT64, TENSOR_FLOAT), 1, (TENSOR_FLOAT)),       \
   OPT(ep, "SoftmaxCrossEntropyGrad", CROSS_ENTROPY_GRAD_BF16, 4, 4,                       \
       (TENSOR_FLOAT, TENSOR_BFLOAT16, TENSOR_INT64, TENSOR_FLOAT), 1, (TENSOR_BFLOAT16)), \
   OP(ep, "SwishGrad", SWISH_GRAD, 2, 2, TENSOR_FLOAT),                                   \
   OP(ep, "Swish", SWISH_BF16, 1, 1, TENSOR_BFLOAT16),                                    \
   OP(ep, "SwishGrad", SWISH_GRAD_BF16, 2, 2, TENSOR_BFLOAT16),                           \
   OPT(ep, "LayerNormalizationGrad", LAYER_NORM_BF16_DY, 5, 5,                             \
       (TENSOR_BFLOAT16, TENSOR_FLOAT, TENSOR_FLOAT, TENSOR_FLOAT, TENSOR_FLOAT), 1,         \
       (TENSOR_FLOAT)),                                                                    \
   OPT(ep, "LayerNormalization", LAYER_NORM_BF16, 3, 2,                                    \
       (TENSOR_FLOAT, TENSOR_FLOAT, TENSOR_FLOAT), 3,                                      \
       (TENSOR_BFLOAT16, TENSOR_FLOAT, TENSOR_FLOAT)),                                    \
   OP(ep, "RmsNormGrad", RMS_NORM_GRAD, 2, 2, TENSOR_FLOAT),                              \
   OPT(ep, "RmsNormGrad", RMS_NORM_GRAD_BF16_DY, 2, 2, (TENSOR_BFLOAT16, TENSOR_FLOAT), 1,  \
       (TENSOR_FLOAT)),                                                                    \
   OPT(ep, "RmsNormalization", RMS_NORM_BF16, 2, 2, (TENSOR_FLOAT, TENSOR_FLOAT), 1,       \
       (TENSOR_BFLOAT16))}

static Op cpu_ops[KERNELS] = OPS(cpu);
static Op cuda_ops[KERNELS] = OPS(cuda);

static OrtCustomOpDomain* domains[2]; /* cpu, cuda: made once, shared by every session */

static OrtStatus* config(const OrtSessionOptions* o, const char* key, char* value, size_t size) {
  int has = 0;
  value[0] = '\0';
  CHECK(ORT(HasSessionConfigEntry)(o, key, &has));
  if (has) {
    CHECK(ORT(GetSessionConfigEntry)(o, key, value, &size));
  }
  return NULL;
}

EXPORT OrtStatus* RegisterCustomOps(OrtSessionOptions* options, const OrtApiBase* base) {
  api = base->GetApi(API_VERSION);
  if (api == NULL) {
    fprintf(stderr, "libloraort_kernels: ONNX Runtime %s lacks C API version %d\n",
            base->GetVersionString(), API_VERSION);
    return NULL; /* no API to report through; the session then fails on the unknown ops */
  }
  char ep[32], device[32];
  CHECK(config(options, "loraort.kernels.ep", ep, sizeof ep));
  CHECK(config(options, "loraort.kernels.device", device, sizeof device));
  int cuda = strcmp(ep, "cuda") == 0;
  if (!cuda && ep[0] != '\0' && strcmp(ep, "cpu") != 0) {
    return fail("RegisterCustomOps", "loraort.kernels.ep must be cpu or cuda");
  }
  pthread_mutex_lock(&cuda_lock);
  OrtStatus* s = NULL;
  if (cuda && !cuda_init(device[0] ? atoi(device) : 0)) {
    s = ORT(CreateStatus)(ORT_FAIL, cuda_error);
  }
  if (s == NULL && domains[cuda] == NULL) {
    OrtCustomOpDomain* d = NULL;
    s = ORT(CreateCustomOpDomain)("dev.loraort", &d);
    for (int k = 0; s == NULL && k < KERNELS; k++) {
      Op* op = cuda ? &cuda_ops[k] : &cpu_ops[k];
      op->cuda = cuda;
      s = ORT(CustomOpDomain_Add)(d, op);
    }
    if (s == NULL) domains[cuda] = d;
  }
  pthread_mutex_unlock(&cuda_lock);
  if (s != NULL) return s;
  return ORT(AddCustomOpDomain)(options, domains[cuda]);
}
