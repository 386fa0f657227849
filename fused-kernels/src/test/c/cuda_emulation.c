/*
 * Runs the CUDA kernels' own source (kernels_cuda.c's LORAORT_CUDA_SOURCE, written out by
 * CudaEmulationTest as kernels_cu.c with `extern "C"` removed) on the CPU and compares each
 * kernel with its CPU kernel (kernels_cpu.c), launched as ops.c launches it (kernels.h's launch
 * geometry). One POSIX thread per CUDA thread of a block, the blocks one after another;
 * __syncthreads is a barrier of the block's threads and a warp shuffle an exchange through memory
 * between two barriers of the warp's 32 threads. So the kernels' indexing, reductions and
 * branches run as written; what the CPU cannot show is the GPU's timing and NVRTC's code (the
 * gpu-tagged CudaKernelsTest runs them on a GPU).
 *
 * Prints one line per check; exits 1 if any differs by more than float32 rounding (float32
 * results: 1e-5 of the largest) or one bfloat16 step (bfloat16 results).
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

/* ---- what the kernels see of CUDA ---- */

typedef struct {
  unsigned x;
} uint1_t;
static __thread uint1_t threadIdx;
static uint1_t blockIdx, blockDim, gridDim; /* blocks run one after another */

#define __global__
#define __device__ static
#define __shared__ static

static pthread_barrier_t block_barrier, warp_barrier[32];
static float exchange[32][32];

static void __syncthreads(void) { pthread_barrier_wait(&block_barrier); }

static float __shfl_xor_sync(unsigned mask, float v, int lane_mask) {
  (void)mask;
  unsigned warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  exchange[warp][lane] = v;
  pthread_barrier_wait(&warp_barrier[warp]);
  float other = exchange[warp][lane ^ (unsigned)lane_mask];
  pthread_barrier_wait(&warp_barrier[warp]);
  return other;
}

static float __uint_as_float(unsigned u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}
static float __int_as_float(unsigned u) { return __uint_as_float(u); }
static unsigned __float_as_uint(float f) {
  unsigned u;
  memcpy(&u, &f, sizeof u);
  return u;
}

typedef struct mask_layout mask_layout;

#include "kernels_cu.c"

/* ---- launching ---- */

typedef struct {
  unsigned tid;
  void (*body)(void*);
  void* args;
} Thread;

static void* thread_main(void* p) {
  Thread* t = p;
  threadIdx.x = t->tid;
  t->body(t->args);
  return NULL;
}

static void launch(unsigned blocks, unsigned threads, void (*body)(void*), void* args) {
  blockDim.x = threads;
  gridDim.x = blocks;
  pthread_barrier_init(&block_barrier, NULL, threads);
  for (unsigned w = 0; w < threads / 32; w++) pthread_barrier_init(&warp_barrier[w], NULL, 32);
  pthread_t* ids = malloc(threads * sizeof *ids);
  Thread* ts = malloc(threads * sizeof *ts);
  for (unsigned b = 0; b < blocks; b++) {
    blockIdx.x = b;
    for (unsigned t = 0; t < threads; t++) {
      ts[t] = (Thread){t, body, args};
      pthread_create(&ids[t], NULL, thread_main, &ts[t]);
    }
    for (unsigned t = 0; t < threads; t++) pthread_join(ids[t], NULL);
  }
  free(ids);
  free(ts);
  pthread_barrier_destroy(&block_barrier);
  for (unsigned w = 0; w < threads / 32; w++) pthread_barrier_destroy(&warp_barrier[w]);
}

/* ---- data and comparison ---- */

static int failures;
static uint64_t seed = 42;

static float gaussian(float sd) { /* Box-Muller on a xorshift */
  double u[2];
  for (int k = 0; k < 2; k++) {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    u[k] = ((seed >> 11) + 0.5) / 9007199254740992.0;
  }
  return (float)(sd * sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]));
}

static float* randoms(int64_t n, float sd) {
  float* v = malloc(n * sizeof *v);
  for (int64_t i = 0; i < n; i++) v[i] = gaussian(sd);
  return v;
}

static float bf16_value(uint16_t b) { return __uint_as_float((unsigned)b << 16); }

static uint16_t* to_bf16(const float* v, int64_t n) {
  uint16_t* out = malloc(n * sizeof *out);
  for (int64_t i = 0; i < n; i++) out[i] = __float_as_uint(v[i]) >> 16; /* truncated: any bf16 */
  return out;
}

static void check_float(const char* what, const float* got, const float* want, int64_t n) {
  double max = 0, worst = 0;
  for (int64_t i = 0; i < n; i++) max = fmax(max, fabs(want[i]));
  for (int64_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - want[i]);
    worst = isnan(got[i]) != isnan(want[i]) ? INFINITY : fmax(worst, isnan(d) ? 0 : d);
  }
  worst /= max > 0 ? max : 1;
  int ok = worst <= 1e-5;
  failures += !ok;
  printf("%s %s: worst %.3g of max\n", ok ? "ok  " : "FAIL", what, worst);
}

static void check_bf16(const char* what, const uint16_t* got, const uint16_t* want, int64_t n) {
  double worst = 0;
  for (int64_t i = 0; i < n; i++) {
    double g = bf16_value(got[i]), w = bf16_value(want[i]);
    double step = fmax(fabs(w), 1.17549435e-38) / 128; /* one bf16 step at w */
    worst = fmax(worst, fabs(g - w) / step);
  }
  int ok = worst <= 1.0;
  failures += !ok;
  printf("%s %s: worst %.2f of a bf16 step\n", ok ? "ok  " : "FAIL", what, worst);
}

/* ---- the kernels' calls, as ops.c makes them ---- */

typedef struct {
  const void *a, *b, *c, *d, *e;
  void *out, *out2, *out3;
  long long n, rows, v, seq;
  int h, flag, shift;
  float scale;
  mask_layout mask;
} Args;

static void run_gelu_grad(void* p) {
  Args* a = p;
  (a->flag ? gelu_tanh_grad : gelu_grad)(a->a, a->b, a->out, a->n);
}
static void run_swish_grad(void* p) {
  Args* a = p;
  swish_grad(a->a, a->b, a->out, a->n, a->scale);
}
static void run_swish_bf16(void* p) {
  Args* a = p;
  swish_bf16(a->a, a->out, a->n, a->scale);
}
static void run_swish_grad_bf16(void* p) {
  Args* a = p;
  swish_grad_bf16(a->a, a->b, a->out, a->n, a->scale);
}
static void run_gelu_bf16(void* p) {
  Args* a = p;
  gelu_bf16(a->a, a->out, a->n, a->flag);
}
static void run_gelu_grad_bf16(void* p) {
  Args* a = p;
  gelu_grad_bf16(a->a, a->b, a->out, a->n, a->flag);
}
static void run_layer_norm_grad(void* p) {
  Args* a = p;
  layer_norm_grad(a->a, a->flag, a->b, a->c, a->d, a->e, a->out, a->h);
}
static void run_layer_norm_bf16(void* p) {
  Args* a = p;
  layer_norm_bf16(a->a, a->b, a->c, a->out, a->out2, a->out3, a->h, a->scale);
}
static void run_rms_norm_grad(void* p) {
  Args* a = p;
  rms_norm_grad(a->a, a->flag, a->b, a->out, a->h, a->scale);
}
static void run_rms_norm_bf16(void* p) {
  Args* a = p;
  rms_norm_bf16(a->a, a->b, a->out, a->h, a->scale);
}
static void run_softmax_grad(void* p) {
  Args* a = p;
  softmax_grad(a->a, a->b, a->out, a->h, a->scale);
}
static void run_softmax_bf16(void* p) {
  Args* a = p;
  softmax_bf16(a->a, a->b, a->mask, a->out, a->rows, a->h, a->scale);
}
static void run_softmax_grad_bf16(void* p) {
  Args* a = p;
  softmax_grad_bf16(a->a, a->b, a->out, a->rows, a->h, a->scale);
}
static void run_cross_entropy(void* p) {
  Args* a = p;
  cross_entropy(a->a, a->flag, a->b, a->out, a->out2, a->v, a->seq, a->shift);
}
static void run_cross_entropy_grad(void* p) {
  Args* a = p;
  cross_entropy_grad(a->a, a->b, a->flag, a->c, a->d, a->out, a->v, a->seq, a->shift);
}

static void elementwise(int64_t n) {
  char what[64];
  float *dy = randoms(n, 1), *x = randoms(n, 3), *got = malloc(n * 4), *want = malloc(n * 4);
  uint16_t *xb = to_bf16(x, n), *dyb = to_bf16(dy, n), *gb = malloc(n * 2), *wb = malloc(n * 2);
  for (int tanh_form = 0; tanh_form < 2; tanh_form++) {
    Args a = {.a = dy, .b = x, .out = got, .n = n, .flag = tanh_form};
    launch(loraort_elementwise_blocks(n), LORAORT_ELEMENTWISE_THREADS, run_gelu_grad, &a);
    (tanh_form ? loraort_gelu_tanh_grad_cpu : loraort_gelu_grad_cpu)(dy, x, want, n);
    snprintf(what, sizeof what, "%s n=%lld", tanh_form ? "gelu_tanh_grad" : "gelu_grad", (long long)n);
    check_float(what, got, want, n);
    Args b = {.a = xb, .out = gb, .n = n, .flag = tanh_form};
    launch(loraort_elementwise_blocks(n), LORAORT_ELEMENTWISE_THREADS, run_gelu_bf16, &b);
    loraort_gelu_bf16_cpu(xb, wb, n, tanh_form);
    snprintf(what, sizeof what, "gelu_bf16 tanh=%d n=%lld", tanh_form, (long long)n);
    check_bf16(what, gb, wb, n);
    Args c = {.a = dyb, .b = xb, .out = gb, .n = n, .flag = tanh_form};
    launch(loraort_elementwise_blocks(n), LORAORT_ELEMENTWISE_THREADS, run_gelu_grad_bf16, &c);
    loraort_gelu_grad_bf16_cpu(dyb, xb, wb, n, tanh_form);
    snprintf(what, sizeof what, "gelu_grad_bf16 tanh=%d n=%lld", tanh_form, (long long)n);
    check_bf16(what, gb, wb, n);
  }
  const float alphas[] = {1.0f, 1.702f};
  for (int k = 0; k < 2; k++) {
    Args a = {.a = dy, .b = x, .out = got, .n = n, .scale = alphas[k]};
    launch(loraort_elementwise_blocks(n), LORAORT_ELEMENTWISE_THREADS, run_swish_grad, &a);
    loraort_swish_grad_cpu(dy, x, want, n, alphas[k]);
    snprintf(what, sizeof what, "swish_grad alpha=%g n=%lld", alphas[k], (long long)n);
    check_float(what, got, want, n);
    Args b = {.a = xb, .out = gb, .n = n, .scale = alphas[k]};
    launch(loraort_elementwise_blocks(n), LORAORT_ELEMENTWISE_THREADS, run_swish_bf16, &b);
    loraort_swish_bf16_cpu(xb, wb, n, alphas[k]);
    snprintf(what, sizeof what, "swish_bf16 alpha=%g n=%lld", alphas[k], (long long)n);
    check_bf16(what, gb, wb, n);
    Args c = {.a = dyb, .b = xb, .out = gb, .n = n, .scale = alphas[k]};
    launch(loraort_elementwise_blocks(n), LORAORT_ELEMENTWISE_THREADS, run_swish_grad_bf16, &c);
    loraort_swish_grad_bf16_cpu(dyb, xb, wb, n, alphas[k]);
    snprintf(what, sizeof what, "swish_grad_bf16 alpha=%g n=%lld", alphas[k], (long long)n);
    check_bf16(what, gb, wb, n);
  }
  free(dy), free(x), free(got), free(want), free(xb), free(dyb), free(gb), free(wb);
}

static void rows_float(int64_t rows, int h) {
  char what[64];
  int64_t n = rows * h;
  float *dy = randoms(n, 1), *x = randoms(n, 1), *scale = randoms(h, 1);
  float *mean = malloc(rows * 4), *inv = malloc(rows * 4), *got = malloc(n * 4), *want = malloc(n * 4);
  for (int64_t r = 0; r < rows; r++) {
    double s = 0, s2 = 0;
    for (int j = 0; j < h; j++) s += x[r * h + j], s2 += (double)x[r * h + j] * x[r * h + j];
    mean[r] = (float)(s / h);
    inv[r] = (float)(1 / sqrt(s2 / h - (s / h) * (s / h) + 1e-5));
  }
  uint16_t* dyb = to_bf16(dy, n);
  for (int bf16 = 0; bf16 < 2; bf16++) { /* dY float32, or bfloat16 from a product */
    const void* g = bf16 ? (const void*)dyb : (const void*)dy;
    Args a = {.a = g, .flag = bf16, .b = x, .c = scale, .d = mean, .e = inv, .out = got, .h = h};
    launch((unsigned)rows, loraort_row_threads(h), run_layer_norm_grad, &a);
    loraort_layer_norm_grad_cpu(g, bf16, x, scale, mean, inv, want, rows, h);
    snprintf(what, sizeof what, "layer_norm_grad dy_bf16=%d [%lld, %d]", bf16, (long long)rows, h);
    check_float(what, got, want, n);
  }
  free(dyb);
  /* the forward with a bfloat16 output: Y, Mean and InvStdDev */
  float *bias = randoms(h, 1), *m2 = malloc(rows * 4), *i2 = malloc(rows * 4);
  uint16_t *yb = malloc(n * 2), *wb = malloc(n * 2);
  for (int with_bias = 0; with_bias < 2; with_bias++) {
    Args f = {.a = x, .b = scale, .c = with_bias ? bias : NULL, .out = yb, .out2 = m2, .out3 = i2,
              .h = h, .scale = 1e-5f};
    launch((unsigned)rows, loraort_row_threads(h), run_layer_norm_bf16, &f);
    loraort_layer_norm_bf16_cpu(x, scale, with_bias ? bias : NULL, wb, mean, inv, rows, h, 1e-5f);
    snprintf(what, sizeof what, "layer_norm_bf16 bias=%d [%lld, %d]", with_bias, (long long)rows, h);
    check_bf16(what, yb, wb, n);
    check_float(what, m2, mean, rows);
    check_float(what, i2, inv, rows);
  }
  free(bias), free(m2), free(i2), free(yb), free(wb);
  uint16_t* dyb2 = to_bf16(dy, n);
  for (int bf16 = 0; bf16 < 2; bf16++) {
    const void* g = bf16 ? (const void*)dyb2 : (const void*)dy;
    Args rms = {.a = g, .flag = bf16, .b = x, .out = got, .h = h, .scale = 1e-6f};
    launch((unsigned)rows, loraort_row_threads(h), run_rms_norm_grad, &rms);
    loraort_rms_norm_grad_cpu(g, bf16, x, want, rows, h, 1e-6f);
    snprintf(what, sizeof what, "rms_norm_grad dy_bf16=%d [%lld, %d]", bf16, (long long)rows, h);
    check_float(what, got, want, n);
  }
  free(dyb2);
  uint16_t *rb = malloc(n * 2), *rw = malloc(n * 2);
  Args rf = {.a = x, .b = scale, .out = rb, .h = h, .scale = 1e-6f};
  launch((unsigned)rows, loraort_row_threads(h), run_rms_norm_bf16, &rf);
  loraort_rms_norm_bf16_cpu(x, scale, rw, rows, h, 1e-6f);
  snprintf(what, sizeof what, "rms_norm_bf16 [%lld, %d]", (long long)rows, h);
  check_bf16(what, rb, rw, n);
  free(rb), free(rw);
  Args b = {.a = dy, .b = x, .out = got, .h = h, .scale = 0.5f};
  launch((unsigned)rows, loraort_row_threads(h), run_softmax_grad, &b);
  loraort_softmax_grad_cpu(dy, x, want, rows, h, 0.5f);
  snprintf(what, sizeof what, "softmax_grad [%lld, %d]", (long long)rows, h);
  check_float(what, got, want, n);
  free(dy), free(x), free(scale), free(mean), free(inv), free(got), free(want);
}

static void rows_bf16(int64_t examples, int64_t heads, int64_t queries, int h) {
  char what[80];
  int64_t rows = examples * heads * queries, n = rows * h;
  float *x = randoms(n, 4), *m = malloc(examples * h * 4), *dy = randoms(n, 0.01f);
  for (int64_t i = 0; i < examples * h; i++) m[i] = i % 3 == 0 ? -10000.0f : 0.0f;
  uint16_t *xb = to_bf16(x, n), *mb = to_bf16(m, examples * h), *dyb = to_bf16(dy, n);
  uint16_t *gb = malloc(n * 2), *wb = malloc(n * 2);
  /* the mask [examples, 1, 1, h] against X [examples, heads, queries, h], as ops.c lays it out */
  mask_layout ml = {heads, queries, h, 0, 0, 1};
  loraort_mask cm = {heads, queries, h, 0, 0, 1};
  Args a = {.a = xb, .b = mb, .mask = ml, .out = gb, .rows = rows, .h = h, .scale = 0.125f};
  launch(loraort_warp_row_blocks(rows), LORAORT_WARP_ROW_THREADS, run_softmax_bf16, &a);
  loraort_softmax_bf16_cpu(xb, mb, cm, wb, rows, h, 0.125f);
  snprintf(what, sizeof what, "softmax_bf16 masked [%lld, %d]", (long long)rows, h);
  check_bf16(what, gb, wb, n);
  Args b = {.a = dyb, .b = wb, .out = gb, .rows = rows, .h = h, .scale = 0.125f};
  uint16_t* want = malloc(n * 2);
  launch(loraort_warp_row_blocks(rows), LORAORT_WARP_ROW_THREADS, run_softmax_grad_bf16, &b);
  loraort_softmax_grad_bf16_cpu(dyb, wb, want, rows, h, 0.125f);
  snprintf(what, sizeof what, "softmax_grad_bf16 [%lld, %d]", (long long)rows, h);
  check_bf16(what, gb, want, n);
  free(x), free(m), free(dy), free(xb), free(mb), free(dyb), free(gb), free(wb), free(want);
}

static void cross_entropy_rows(int64_t batch, int64_t seq, int64_t v, int bf16) {
  char what[80];
  int64_t rows = batch * seq, n = rows * v;
  float* x = randoms(n, 3);
  uint16_t* xb = to_bf16(x, n);
  const void* logits = bf16 ? (const void*)xb : (const void*)x;
  long long* labels = malloc(rows * sizeof *labels);
  for (int64_t r = 0; r < rows; r++) labels[r] = r % 5 == 2 ? -100 : (long long)((r * 7919) % v);
  float *dloss = randoms(rows, 1), *loss = malloc(rows * 4), *lse = malloc(rows * 4);
  float *want_loss = malloc(rows * 4), *want_lse = malloc(rows * 4);
  void *got = malloc(n * 4), *want = malloc(n * 4);
  for (int shift = 0; shift < 2; shift++) {
    Args a = {.a = logits, .flag = bf16, .b = labels, .out = loss, .out2 = lse, .v = v, .seq = seq,
              .shift = shift};
    launch((unsigned)rows, loraort_row_threads(v), run_cross_entropy, &a);
    loraort_cross_entropy_cpu(logits, bf16, (const int64_t*)labels, want_loss, want_lse, rows, v,
                              seq, shift);
    snprintf(what, sizeof what, "cross_entropy bf16=%d shift=%d [%lld, %lld]", bf16, shift,
             (long long)rows, (long long)v);
    check_float(what, loss, want_loss, rows);
    check_float(what, lse, want_lse, rows);
    /* the gradient from the CPU kernel's log-sum-exp, so the two differ in the kernel alone */
    Args b = {.a = dloss, .b = logits, .flag = bf16, .c = labels, .d = want_lse, .out = got,
              .v = v, .seq = seq, .shift = shift};
    launch((unsigned)rows, loraort_row_threads(v), run_cross_entropy_grad, &b);
    loraort_cross_entropy_grad_cpu(dloss, logits, bf16, (const int64_t*)labels, want_lse, want,
                                   rows, v, seq, shift);
    snprintf(what, sizeof what, "cross_entropy_grad bf16=%d shift=%d [%lld, %lld]", bf16, shift,
             (long long)rows, (long long)v);
    if (bf16) {
      check_bf16(what, got, want, n);
    } else {
      check_float(what, got, want, n);
    }
  }
  free(x), free(xb), free(labels), free(dloss), free(loss), free(lse), free(want_loss);
  free(want_lse), free(got), free(want);
}

int main(void) {
  elementwise(1000);
  elementwise(300); /* less than two blocks */
  rows_float(5, 17);
  rows_float(3, 300);
  rows_bf16(2, 3, 4, 77);
  rows_bf16(1, 2, 3, 20);
  for (int bf16 = 0; bf16 < 2; bf16++) {
    cross_entropy_rows(2, 5, 37, bf16);
    cross_entropy_rows(2, 3, 1000, bf16);
  }
  printf("%d failed\n", failures);
  return failures > 0;
}
