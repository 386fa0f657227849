/* CPU versions of the fused kernels: the reference the CUDA ones are tested against, and what a
 * CPU session of a train_fused graph runs. Row sums in double: the decomposed graph sums in float,
 * so the two agree to float rounding. */
#include <math.h>
#include <string.h>

#include "kernels.h"

#define INV_SQRT2 0.70710678118654752440
#define INV_SQRT_2PI 0.39894228040143267794
#define SQRT_2_OVER_PI 0.79788456080286535588
#define GELU_TANH_C 0.044715

/* dGELU/dx, exact (erf) or the tanh approximation. Phi(v) is written 0.5 erfc(-v / sqrt 2), not
 * 0.5 (1 + erf(v / sqrt 2)): in the negative tail the latter is 1 minus almost 1, whose float32
 * rounding left CUDA's and the C library's erf tens of bfloat16 steps apart (run X). */
static float gelu_slope(float v, int tanh_form) {
  if (!tanh_form) {
    float cdf = 0.5f * erfcf(-v * (float)INV_SQRT2);
    float pdf = expf(-0.5f * v * v) * (float)INV_SQRT_2PI;
    return cdf + v * pdf;
  }
  float v2 = v * v;
  float t = tanhf((float)SQRT_2_OVER_PI * v * (1.0f + (float)GELU_TANH_C * v2));
  float du = (float)SQRT_2_OVER_PI * (1.0f + 3.0f * (float)GELU_TANH_C * v2);
  return 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du;
}

static float gelu(float v, int tanh_form) {
  if (!tanh_form) return 0.5f * v * erfcf(-v * (float)INV_SQRT2);
  return 0.5f * v *
         (1.0f + tanhf((float)SQRT_2_OVER_PI * v * (1.0f + (float)GELU_TANH_C * v * v)));
}

void loraort_gelu_grad_cpu(const float* dy, const float* x, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * gelu_slope(x[i], 0);
}

void loraort_gelu_tanh_grad_cpu(const float* dy, const float* x, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * gelu_slope(x[i], 1);
}

/* d/dx of x sigmoid(alpha x) */
static float swish_slope(float v, float alpha) {
  float s = 1.0f / (1.0f + expf(-alpha * v));
  return s + alpha * v * s * (1.0f - s);
}

void loraort_swish_grad_cpu(const float* dy, const float* x, float* dx, int64_t n, float alpha) {
  for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * swish_slope(x[i], alpha);
}

static float bf16_to_float(uint16_t b);
static uint16_t float_to_bf16(float f);

/* Element i of a float32 tensor, or of a bfloat16 one when bf16 is 1. */
static float load(const void* v, int bf16, int64_t i) {
  return bf16 ? bf16_to_float(((const uint16_t*)v)[i]) : ((const float*)v)[i];
}

void loraort_layer_norm_grad_cpu(const void* dy, int dy_bf16, const float* x, const float* scale,
                                 const float* mean, const float* inv_std, float* dx, int64_t rows,
                                 int64_t h) {
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * h;
    float* dxr = dx + r * h;
    float mu = mean[r], is = inv_std[r];
    double s1 = 0, s2 = 0;
    for (int64_t j = 0; j < h; j++) {
      float g = load(dy, dy_bf16, r * h + j) * scale[j];
      s1 += g;
      s2 += g * ((xr[j] - mu) * is);
    }
    float m1 = (float)(s1 / h), m2 = (float)(s2 / h);
    for (int64_t j = 0; j < h; j++) {
      float g = load(dy, dy_bf16, r * h + j) * scale[j];
      dxr[j] = is * (g - m1 - (xr[j] - mu) * is * m2);
    }
  }
}

void loraort_layer_norm_bf16_cpu(const float* x, const float* scale, const float* bias,
                                 uint16_t* y, float* mean, float* inv_std, int64_t rows, int64_t h,
                                 float epsilon) {
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * h;
    double s = 0, s2 = 0;
    for (int64_t j = 0; j < h; j++) s += xr[j];
    float mu = (float)(s / h);
    for (int64_t j = 0; j < h; j++) s2 += (double)(xr[j] - mu) * (xr[j] - mu);
    float is = (float)(1.0 / sqrt(s2 / h + epsilon));
    mean[r] = mu;
    inv_std[r] = is;
    for (int64_t j = 0; j < h; j++) {
      float v = (xr[j] - mu) * is * scale[j] + (bias != NULL ? bias[j] : 0.0f);
      y[r * h + j] = float_to_bf16(v);
    }
  }
}

void loraort_softmax_grad_cpu(const float* dy, const float* y, float* dx, int64_t rows, int64_t h,
                              float scale) {
  for (int64_t r = 0; r < rows; r++) {
    const float* dyr = dy + r * h;
    const float* yr = y + r * h;
    float* dxr = dx + r * h;
    double dot = 0;
    for (int64_t j = 0; j < h; j++) {
      dot += dyr[j] * yr[j];
    }
    float d = (float)dot;
    for (int64_t j = 0; j < h; j++) {
      dxr[j] = scale * yr[j] * (dyr[j] - d);
    }
  }
}

static float bf16_to_float(uint16_t b) {
  uint32_t u = (uint32_t)b << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* Rounds to nearest, ties to even, as ONNX Runtime's Cast and CUDA's __float2bfloat16 do. */
static uint16_t float_to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

/* The offset of row r's first mask value. */
static int64_t mask_row(loraort_mask m, int64_t r) {
  return r / (m.d1 * m.d2) * m.s0 + r / m.d2 % m.d1 * m.s1 + r % m.d2 * m.s2;
}

void loraort_softmax_bf16_cpu(const uint16_t* x, const uint16_t* mask, loraort_mask m, uint16_t* y,
                              int64_t rows, int64_t h, float scale) {
  for (int64_t r = 0; r < rows; r++) {
    const uint16_t* xr = x + r * h;
    const uint16_t* mr = mask != NULL ? mask + mask_row(m, r) : NULL;
    uint16_t* yr = y + r * h;
#define LOGIT(j) (scale * bf16_to_float(xr[j]) + (mr != NULL ? bf16_to_float(mr[(j) * m.s3]) : 0.0f))
    float mx = -INFINITY;
    for (int64_t j = 0; j < h; j++) {
      float v = LOGIT(j);
      mx = v > mx || isnan(v) ? v : mx; /* a NaN makes the row NaN, as the float softmax does */
    }
    double sum = 0;
    for (int64_t j = 0; j < h; j++) {
      sum += expf(LOGIT(j) - mx);
    }
    float inv = (float)(1.0 / sum);
    for (int64_t j = 0; j < h; j++) {
      yr[j] = float_to_bf16(expf(LOGIT(j) - mx) * inv);
    }
#undef LOGIT
  }
}

void loraort_softmax_grad_bf16_cpu(const uint16_t* dy, const uint16_t* y, uint16_t* dx,
                                   int64_t rows, int64_t h, float scale) {
  for (int64_t r = 0; r < rows; r++) {
    const uint16_t* dyr = dy + r * h;
    const uint16_t* yr = y + r * h;
    uint16_t* dxr = dx + r * h;
    double dot = 0;
    for (int64_t j = 0; j < h; j++) {
      dot += bf16_to_float(dyr[j]) * bf16_to_float(yr[j]);
    }
    float d = (float)dot;
    for (int64_t j = 0; j < h; j++) {
      dxr[j] = float_to_bf16(scale * bf16_to_float(yr[j]) * (bf16_to_float(dyr[j]) - d));
    }
  }
}

void loraort_gelu_bf16_cpu(const uint16_t* x, uint16_t* y, int64_t n, int tanh_form) {
  for (int64_t i = 0; i < n; i++) y[i] = float_to_bf16(gelu(bf16_to_float(x[i]), tanh_form));
}

void loraort_gelu_grad_bf16_cpu(const uint16_t* dy, const uint16_t* x, uint16_t* dx, int64_t n,
                                int tanh_form) {
  for (int64_t i = 0; i < n; i++) {
    dx[i] = float_to_bf16(bf16_to_float(dy[i]) * gelu_slope(bf16_to_float(x[i]), tanh_form));
  }
}


int64_t loraort_cross_entropy_cpu(const void* x, int bf16, const int64_t* labels, float* loss,
                                  float* lse, int64_t rows, int64_t v, int64_t seq, int shift) {
  int64_t bad = -1;
  for (int64_t r = 0; r < rows; r++) {
    int64_t label = loraort_row_label(labels, r, seq, shift);
    loss[r] = 0.0f;
    lse[r] = 0.0f;
    if (label == LORAORT_IGNORED) continue;
    const int64_t at = r * v;
    float mx = -INFINITY;
    for (int64_t j = 0; j < v; j++) {
      float a = load(x, bf16, at + j);
      mx = a > mx || isnan(a) ? a : mx;
    }
    double sum = 0;
    for (int64_t j = 0; j < v; j++) sum += expf(load(x, bf16, at + j) - mx);
    lse[r] = mx + (float)log(sum);
    if (label < 0 || label >= v) {
      loss[r] = NAN;
      bad = bad < 0 ? r : bad;
    } else {
      loss[r] = lse[r] - load(x, bf16, at + label);
    }
  }
  return bad;
}

void loraort_cross_entropy_grad_cpu(const float* dloss, const void* x, int bf16,
                                    const int64_t* labels, const float* lse, void* dx,
                                    int64_t rows, int64_t v, int64_t seq, int shift) {
  for (int64_t r = 0; r < rows; r++) {
    int64_t label = loraort_row_label(labels, r, seq, shift);
    int ignored = label == LORAORT_IGNORED;
    int bad = !ignored && (label < 0 || label >= v);
    float d = dloss[r], l = lse[r];
    for (int64_t j = 0, i = r * v; j < v; j++, i++) {
      float onehot = j == label ? 1.0f : 0.0f;
      float g = ignored ? 0.0f : bad ? NAN : d * (expf(load(x, bf16, i) - l) - onehot);
      if (bf16) {
        ((uint16_t*)dx)[i] = float_to_bf16(g);
      } else {
        ((float*)dx)[i] = g;
      }
    }
  }
}

void loraort_swish_bf16_cpu(const uint16_t* x, uint16_t* y, int64_t n, float alpha) {
  for (int64_t i = 0; i < n; i++) {
    float v = bf16_to_float(x[i]);
    y[i] = float_to_bf16(v / (1.0f + expf(-alpha * v)));
  }
}

void loraort_swish_grad_bf16_cpu(const uint16_t* dy, const uint16_t* x, uint16_t* dx, int64_t n,
                                 float alpha) {
  for (int64_t i = 0; i < n; i++) {
    dx[i] = float_to_bf16(bf16_to_float(dy[i]) * swish_slope(bf16_to_float(x[i]), alpha));
  }
}

/* 1 / sqrt(mean(x^2) + epsilon) of a row */
static float rms_inverse(const float* xr, int64_t h, float epsilon) {
  double ss = 0;
  for (int64_t j = 0; j < h; j++) ss += (double)xr[j] * xr[j];
  return (float)(1.0 / sqrt(ss / h + epsilon));
}

void loraort_rms_norm_grad_cpu(const void* dy, int dy_bf16, const float* x, float* dx,
                               int64_t rows, int64_t h, float epsilon) {
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * h;
    double dot = 0;
    for (int64_t j = 0; j < h; j++) dot += (double)xr[j] * load(dy, dy_bf16, r * h + j);
    float inv = rms_inverse(xr, h, epsilon);
    float c = inv * inv * inv * (float)(dot / h);
    for (int64_t j = 0; j < h; j++) dx[r * h + j] = inv * load(dy, dy_bf16, r * h + j) - c * xr[j];
  }
}

void loraort_rms_norm_bf16_cpu(const float* x, const float* scale, uint16_t* y, int64_t rows,
                               int64_t h, float epsilon) {
  for (int64_t r = 0; r < rows; r++) {
    float inv = rms_inverse(x + r * h, h, epsilon);
    for (int64_t j = 0; j < h; j++) y[r * h + j] = float_to_bf16(scale[j] * (x[r * h + j] * inv));
  }
}
