// A CUPTI injection library: the start and end of every GPU kernel and memory copy of a CUDA
// program, for kernel_times.sh. The CUDA driver loads it into any program when
// CUDA_INJECTION64_PATH names it, so the Java trainer (ONNX Runtime's CUDA EP inside a JVM) and
// PyTorch are timed by the same activity records, with kernels neither replayed nor serialised
// (Nsight Compute's way, which did not get through a JVM here). Each process writes
// $KERNEL_TRACE_PREFIX.<pid>.csv, one line per record:
//   name,<id>,0,0,<demangled name>           (once per kernel, before its first record)
//   kernel,<start ns>,<end ns>,<stream>,<name id>
//   memcpy,<start ns>,<end ns>,<stream>,<direction> <bytes>
//   dropped,0,0,<stream>,<records CUPTI dropped>
// Build: g++ -shared -fPIC -O2 -I<cupti and cuda include> kernel_trace.cpp -L<cupti lib> -lcupti
#include <cupti.h>
#include <cxxabi.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

namespace {

#if CUPTI_API_VERSION >= 130200
using KernelRecord = CUpti_ActivityKernel11;
#elif CUPTI_API_VERSION >= 130000
using KernelRecord = CUpti_ActivityKernel10;
#else
using KernelRecord = CUpti_ActivityKernel9;
#endif
#if CUPTI_API_VERSION >= 130000
using MemcpyRecord = CUpti_ActivityMemcpy6;
#else
using MemcpyRecord = CUpti_ActivityMemcpy5;
#endif

FILE *out = nullptr;
std::mutex out_mutex;  // CUPTI hands buffers over on its own thread as well as on the flush at exit
// CUPTI shares one name string among a kernel's records; PyTorch's demangled names run to kilobytes
std::unordered_map<const char *, unsigned> name_ids;

unsigned name_id(const char *mangled) {
  auto it = name_ids.find(mangled);
  if (it != name_ids.end()) return it->second;
  unsigned id = static_cast<unsigned>(name_ids.size());
  name_ids.emplace(mangled, id);
  int status = 0;
  char *name = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  fprintf(out, "name,%u,0,0,%s\n", id, status == 0 ? name : mangled);
  free(name);
  return id;
}

void CUPTIAPI give_buffer(uint8_t **buffer, size_t *size, size_t *max_records) {
  *size = 8 << 20;
  *buffer = static_cast<uint8_t *>(aligned_alloc(8, *size));
  *max_records = 0;
}

const char *direction(uint8_t kind) {
  switch (kind) {
    case CUPTI_ACTIVITY_MEMCPY_KIND_HTOD: return "HtoD";
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOH: return "DtoH";
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOD: return "DtoD";
    default: return "other";
  }
}

void CUPTIAPI take_buffer(CUcontext context, uint32_t stream, uint8_t *buffer, size_t, size_t valid) {
  std::lock_guard<std::mutex> lock(out_mutex);
  CUpti_Activity *record = nullptr;
  while (out != nullptr && cuptiActivityGetNextRecord(buffer, valid, &record) == CUPTI_SUCCESS) {
    if (record->kind == CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) {
      const auto *k = reinterpret_cast<const KernelRecord *>(record);
      unsigned id = name_id(k->name);
      fprintf(out, "kernel,%llu,%llu,%u,%u\n", static_cast<unsigned long long>(k->start),
              static_cast<unsigned long long>(k->end), k->streamId, id);
    } else if (record->kind == CUPTI_ACTIVITY_KIND_MEMCPY) {
      const auto *m = reinterpret_cast<const MemcpyRecord *>(record);
      fprintf(out, "memcpy,%llu,%llu,%u,%s %llu\n", static_cast<unsigned long long>(m->start),
              static_cast<unsigned long long>(m->end), m->streamId, direction(m->copyKind),
              static_cast<unsigned long long>(m->bytes));
    }
  }
  size_t dropped = 0;
  if (out != nullptr && cuptiActivityGetNumDroppedRecords(context, stream, &dropped) == CUPTI_SUCCESS &&
      dropped > 0) {
    fprintf(out, "dropped,0,0,%u,%zu\n", stream, dropped);
  }
  free(buffer);
}

void flush_at_exit() {
  cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
  std::lock_guard<std::mutex> lock(out_mutex);
  fclose(out);
  out = nullptr;
}

bool ok(CUptiResult r, const char *what) {
  if (r == CUPTI_SUCCESS) return true;
  const char *message = nullptr;
  cuptiGetResultString(r, &message);
  fprintf(stderr, "kernel_trace: %s failed: %s\n", what, message ? message : "unknown error");
  return false;
}

}  // namespace

// Called by the CUDA driver once, when the program initialises CUDA; 1 means loaded.
extern "C" int InitializeInjection(void) {
  const char *prefix = getenv("KERNEL_TRACE_PREFIX");
  if (prefix == nullptr) {
    fprintf(stderr, "kernel_trace: KERNEL_TRACE_PREFIX is not set; tracing nothing\n");
    return 0;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s.%d.csv", prefix, static_cast<int>(getpid()));
  out = fopen(path, "w");
  if (out == nullptr) {
    perror(path);
    return 0;
  }
  if (!ok(cuptiActivityRegisterCallbacks(give_buffer, take_buffer), "registering buffers") ||
      !ok(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL), "tracing kernels") ||
      !ok(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMCPY), "tracing copies")) {
    return 0;
  }
  cuptiActivityFlushPeriod(1000);  // records reach the file during the run, not only at exit
  atexit(flush_at_exit);
  return 1;
}
