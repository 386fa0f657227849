/*
 * The part of ONNX Runtime's C API this library uses, written from the C API's documentation
 * (onnxruntime_c_api.h): the API is a table of function pointers that only grows, so each entry
 * has a fixed index; API_VERSION is the oldest table with every entry used here. The indices were
 * checked against two public listings of the table, and every entry is exercised by the tests.
 */
#ifndef LORAORT_ORT_API_H
#define LORAORT_ORT_API_H

#include <stddef.h>
#include <stdint.h>

typedef struct OrtStatus OrtStatus;
typedef struct OrtApi OrtApi;
typedef struct OrtKernelInfo OrtKernelInfo;
typedef struct OrtKernelContext OrtKernelContext;
typedef struct OrtValue OrtValue;
typedef struct OrtTensorTypeAndShapeInfo OrtTensorTypeAndShapeInfo;
typedef struct OrtSessionOptions OrtSessionOptions;
typedef struct OrtCustomOpDomain OrtCustomOpDomain;
typedef struct OrtSession OrtSession;
typedef struct OrtRunOptions OrtRunOptions;
typedef struct OrtIoBinding OrtIoBinding;
typedef struct OrtMemoryInfo OrtMemoryInfo;

typedef struct OrtApiBase {
  const OrtApi* (*GetApi)(uint32_t version);
  const char* (*GetVersionString)(void);
} OrtApiBase;

enum { API_VERSION = 16 };
enum { ORT_FAIL = 1, ORT_INVALID_ARGUMENT = 2 };                   /* OrtErrorCode */
enum { TENSOR_FLOAT = 1, TENSOR_INT32 = 6, TENSOR_INT64 = 7, TENSOR_BFLOAT16 = 16 }; /* ONNXTensorElementDataType */
enum { IO_REQUIRED = 0, IO_OPTIONAL = 1 }; /* OrtCustomOpInputOutputCharacteristic */
enum { MEM_DEFAULT = 0 };                 /* OrtMemType */
enum { ORT_DEVICE_ALLOCATOR = 0 };        /* OrtAllocatorType */

/* Indices into the OrtApi table. */
enum {
  API_CreateStatus = 0,
  API_GetErrorMessage = 2,
  API_CreateCustomOpDomain = 26,
  API_CustomOpDomain_Add = 27,
  API_AddCustomOpDomain = 28,
  API_CreateTensorWithDataAsOrtValue = 49,
  API_GetTensorMutableData = 51,
  API_GetTensorElementType = 60,
  API_GetDimensionsCount = 61,
  API_GetDimensions = 62,
  API_GetTensorTypeAndShape = 65,
  API_CreateMemoryInfo = 68,
  API_CreateCpuMemoryInfo = 69,
  API_KernelInfoGetAttribute_float = 85,
  API_KernelInfoGetAttribute_int64 = 86,
  API_KernelInfoGetAttribute_string = 87,
  API_KernelContext_GetInputCount = 88,
  API_KernelContext_GetInput = 90,
  API_KernelContext_GetOutput = 91,
  API_ReleaseStatus = 93,
  API_ReleaseMemoryInfo = 94,
  API_ReleaseValue = 96,
  API_ReleaseTensorTypeAndShapeInfo = 99,
  API_RunWithBinding = 133,
  API_CreateIoBinding = 134,
  API_ReleaseIoBinding = 135,
  API_BindInput = 136,
  API_BindOutput = 137,
  API_KernelContext_GetGPUComputeStream = 193,
  API_HasSessionConfigEntry = 237,
  API_GetSessionConfigEntry = 238,
};

typedef OrtStatus* (*CreateStatus_fn)(int code, const char* msg);
typedef const char* (*GetErrorMessage_fn)(const OrtStatus* status);
typedef OrtStatus* (*CreateCustomOpDomain_fn)(const char* domain, OrtCustomOpDomain** out);
typedef OrtStatus* (*CustomOpDomain_Add_fn)(OrtCustomOpDomain* domain, const void* op);
typedef OrtStatus* (*AddCustomOpDomain_fn)(OrtSessionOptions* options, OrtCustomOpDomain* d);
typedef OrtStatus* (*CreateTensorWithDataAsOrtValue_fn)(const OrtMemoryInfo* info, void* data,
                                                        size_t bytes, const int64_t* shape,
                                                        size_t rank, int type, OrtValue** out);
typedef OrtStatus* (*GetTensorMutableData_fn)(OrtValue* value, void** out);
typedef OrtStatus* (*GetTensorTypeAndShape_fn)(const OrtValue* value,
                                               OrtTensorTypeAndShapeInfo** out);
typedef OrtStatus* (*GetTensorElementType_fn)(const OrtTensorTypeAndShapeInfo* info, int* out);
typedef OrtStatus* (*GetDimensionsCount_fn)(const OrtTensorTypeAndShapeInfo* info, size_t* out);
typedef OrtStatus* (*GetDimensions_fn)(const OrtTensorTypeAndShapeInfo* info, int64_t* dims,
                                       size_t n);
typedef OrtStatus* (*CreateMemoryInfo_fn)(const char* name, int allocator_type, int id,
                                          int mem_type, OrtMemoryInfo** out);
typedef OrtStatus* (*CreateCpuMemoryInfo_fn)(int allocator_type, int mem_type,
                                             OrtMemoryInfo** out);
typedef OrtStatus* (*KernelInfoGetAttribute_float_fn)(const OrtKernelInfo* info, const char* name,
                                                      float* out);
typedef OrtStatus* (*KernelInfoGetAttribute_int64_fn)(const OrtKernelInfo* info, const char* name,
                                                      int64_t* out);
typedef OrtStatus* (*KernelInfoGetAttribute_string_fn)(const OrtKernelInfo* info, const char* name,
                                                       char* out, size_t* size);
typedef OrtStatus* (*KernelContext_GetInputCount_fn)(const OrtKernelContext* c, size_t* out);
typedef void (*ReleaseStatus_fn)(OrtStatus* s);
typedef void (*ReleaseMemoryInfo_fn)(OrtMemoryInfo* m);
typedef void (*ReleaseValue_fn)(OrtValue* v);
typedef void (*ReleaseTensorTypeAndShapeInfo_fn)(OrtTensorTypeAndShapeInfo* info);
typedef OrtStatus* (*KernelContext_GetInput_fn)(const OrtKernelContext* c, size_t i,
                                                const OrtValue** out);
typedef OrtStatus* (*KernelContext_GetOutput_fn)(OrtKernelContext* c, size_t i,
                                                 const int64_t* dims, size_t n, OrtValue** out);
typedef OrtStatus* (*RunWithBinding_fn)(OrtSession* session, const OrtRunOptions* options,
                                        const OrtIoBinding* binding);
typedef OrtStatus* (*CreateIoBinding_fn)(OrtSession* session, OrtIoBinding** out);
typedef void (*ReleaseIoBinding_fn)(OrtIoBinding* b);
typedef OrtStatus* (*BindInput_fn)(OrtIoBinding* b, const char* name, const OrtValue* v);
typedef OrtStatus* (*BindOutput_fn)(OrtIoBinding* b, const char* name, const OrtValue* v);
typedef OrtStatus* (*KernelContext_GetGPUComputeStream_fn)(const OrtKernelContext* c,
                                                           void** out);
typedef OrtStatus* (*HasSessionConfigEntry_fn)(const OrtSessionOptions* o, const char* key,
                                               int* out);
typedef OrtStatus* (*GetSessionConfigEntry_fn)(const OrtSessionOptions* o, const char* key,
                                               char* value, size_t* size);

/* Each file that includes this has its own table pointer, set before its first call. */
static const OrtApi* api;
#define ORT(name) ((name##_fn)(((void* const*)api)[API_##name]))

#endif
