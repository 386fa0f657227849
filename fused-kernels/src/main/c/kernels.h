/*
 * The fused backward kernels of lora-trainer's train_fused graphs (domain dev.loraort, opset 1),
 * float32, row-major, contiguous:
 *
 *   GeluGrad(dY, X) -> dX                      exact (erf) GELU: dX = dY (Phi(X) + X phi(X))
 *   GeluTanhGrad(dY, X) -> dX                  GELU's tanh approximation (GPT-2's gelu_new):
 *                                              with t = tanh(k (X + a X^3)),
 *                                              dX = dY (0.5 (1 + t) + 0.5 X (1 - t^2) k (1 + 3 a X^2))
 *   LayerNormalizationGrad(dY, X, Scale, Mean, InvStdDev) -> dX
 *                                              over the last axis, from the forward's Mean and
 *                                              InvStdDev: with xh = (X - Mean) InvStdDev and
 *                                              g = dY Scale, dX = InvStdDev (g - mean(g) - xh mean(g xh));
 *                                              dY may be bfloat16 (a product's gradient)
 *   SoftmaxGrad(dY, Y) -> dX                   over the last axis: dX = Y (dY - sum(dY Y))
 *   RmsNormGrad(dY, X) -> dX                   Y = X / sqrt(mean(X^2) + epsilon) over the last axis
 *                                              (attribute epsilon, 1e-6 when absent): with r that
 *                                              root's inverse, dX = r dY - r^3 X mean(X dY); dY may
 *                                              be bfloat16 (a product's gradient)
 *   SwishGrad(dY, X) -> dX                     Y = X sigmoid(alpha X) (alpha: a float attribute,
 *                                              1 when absent): SiLU, and CLIP's QuickGELU with
 *                                              alpha 1.702; with s = sigmoid(alpha X),
 *                                              dX = dY (s + alpha X s (1 - s))
 *
 * The same math as the ai.onnx decompositions the builder writes into train.onnx, in one pass
 * over each row instead of one kernel per elementwise op.
 *
 * The bf16 graphs' attention runs between bfloat16 matrix products, so two ops also take bfloat16
 * tensors in and out and compute in float32 inside (one rounding, of the result), which spares
 * the casts of the attention matrix to float32 and back; each takes attention's scale as an
 * attribute, and the softmax its additive mask, so neither runs as a kernel of its own:
 *
 *   Softmax(X [, Mask]) -> Y                   Y = softmax(scale X + Mask) over the last axis,
 *                                              bfloat16 only; Mask broadcasts against X (rank <= 4)
 *   SoftmaxGrad(dY, Y) -> dX                   dX = scale Y (dY - sum(dY Y)); float32 or bfloat16
 *
 * (scale: a float attribute, 1 when absent.) Likewise the MLP's activation between its two
 * products, as torch.autocast runs it (GELU is not on its float32 list):
 *
 *   Gelu(X) -> Y                               bfloat16 only; attribute approximate: none or tanh
 *   LayerNormalization(X, Scale [, Bias]) -> Y, Mean, InvStdDev
 *                                              over the last axis (attribute epsilon, default
 *                                              1e-5), X and the rest float32, Y bfloat16: a
 *                                              LayerNorm whose output only products read
 *   RmsNormalization(X, Scale) -> Y            Y = Scale X / sqrt(mean(X^2) + epsilon) over the
 *                                              last axis, X float32, Y bfloat16 (RMSNorm and its
 *                                              weight, where only products read the result)
 *   GeluGrad(dY, X), GeluTanhGrad(dY, X)       as above, bfloat16 too
 *   Swish(X) -> Y                              Y = X sigmoid(alpha X), bfloat16 only: SiLU and
 *                                              QuickGELU between two products
 *   SwishGrad(dY, X)                           as above, bfloat16 too
 *
 * A language model's loss reads logits over the whole vocabulary: as ai.onnx ops (a slice for the
 * next-token shift, LogSoftmax, a gather; in the backward a scatter into zeros, an exponential, a
 * pad) it writes and keeps several float32 tensors of that size. One row pass each way instead,
 * reading the logits as the product wrote them (float32 or bfloat16):
 *
 *   SoftmaxCrossEntropy(Logits, Labels) -> Loss, LogSumExp
 *                                              over the last axis, per row: LogSumExp = log sum
 *                                              exp(Logits), Loss = LogSumExp - Logits[label];
 *                                              both 0 where the label is -100 (ignored)
 *   SoftmaxCrossEntropyGrad(dLoss, Logits, Labels, LogSumExp) -> dLogits
 *                                              dLogits = dLoss (exp(Logits - LogSumExp) - onehot),
 *                                              0 on ignored rows; in the type of Logits
 *
 * (attribute shift: with 1, Labels is [batch, seq] and the row of position t is scored against
 * label t + 1, the last position against none: a causal LM's next token, with no copy of the
 * logits. A label outside [0, vocabulary) makes its row's loss and gradient NaN; the CPU kernel
 * reports it instead.)
 */
#ifndef LORAORT_KERNELS_H
#define LORAORT_KERNELS_H

#include <stdint.h>

/* The label a cross-entropy row ignores (PyTorch's ignore_index). */
#define LORAORT_IGNORED (-100)

/* CPU kernels (kernels_cpu.c). */
void loraort_gelu_grad_cpu(const float* dy, const float* x, float* dx, int64_t n);
void loraort_gelu_tanh_grad_cpu(const float* dy, const float* x, float* dx, int64_t n);
void loraort_layer_norm_grad_cpu(const void* dy, int dy_bf16, const float* x, const float* scale,
                                 const float* mean, const float* inv_std, float* dx, int64_t rows,
                                 int64_t h);
void loraort_layer_norm_bf16_cpu(const float* x, const float* scale, const float* bias,
                                 uint16_t* y, float* mean, float* inv_std, int64_t rows, int64_t h,
                                 float epsilon);
void loraort_softmax_grad_cpu(const float* dy, const float* y, float* dx, int64_t rows, int64_t h,
                              float scale);
void loraort_rms_norm_grad_cpu(const void* dy, int dy_bf16, const float* x, float* dx,
                               int64_t rows, int64_t h, float epsilon);
void loraort_rms_norm_bf16_cpu(const float* x, const float* scale, uint16_t* y, int64_t rows,
                               int64_t h, float epsilon);
void loraort_swish_grad_cpu(const float* dy, const float* x, float* dx, int64_t n, float alpha);

/* Where row r's mask values are, X being [d0, d1, d2, h] (leading axes of 1 added): the mask's
 * element strides along each axis, 0 where it broadcasts. */
typedef struct {
  int64_t d1, d2, s0, s1, s2, s3;
} loraort_mask;

/* bfloat16 tensors as their bits: the upper half of a float32. mask may be NULL. */
void loraort_softmax_bf16_cpu(const uint16_t* x, const uint16_t* mask, loraort_mask m, uint16_t* y,
                              int64_t rows, int64_t h, float scale);
void loraort_gelu_bf16_cpu(const uint16_t* x, uint16_t* y, int64_t n, int tanh_form);
void loraort_swish_bf16_cpu(const uint16_t* x, uint16_t* y, int64_t n, float alpha);
void loraort_swish_grad_bf16_cpu(const uint16_t* dy, const uint16_t* x, uint16_t* dx, int64_t n,
                                 float alpha);
void loraort_gelu_grad_bf16_cpu(const uint16_t* dy, const uint16_t* x, uint16_t* dx, int64_t n,
                                int tanh_form);
void loraort_softmax_grad_bf16_cpu(const uint16_t* dy, const uint16_t* y, uint16_t* dx,
                                   int64_t rows, int64_t h, float scale);

/* The label row r is scored against (see shift above); seq is Labels' last axis. */
static inline int64_t loraort_row_label(const int64_t* labels, int64_t r, int64_t seq, int shift) {
  if (!shift) return labels[r];
  return (r + 1) % seq == 0 ? LORAORT_IGNORED : labels[r + 1];
}

/* Logits are float32, or bfloat16 bits when bf16 is 1; so is dx. The forward returns the first
 * row whose label is out of range, or -1. */
int64_t loraort_cross_entropy_cpu(const void* x, int bf16, const int64_t* labels, float* loss,
                                  float* lse, int64_t rows, int64_t v, int64_t seq, int shift);
void loraort_cross_entropy_grad_cpu(const float* dloss, const void* x, int bf16,
                                    const int64_t* labels, const float* lse, void* dx,
                                    int64_t rows, int64_t v, int64_t seq, int shift);

/* How ops.c launches the CUDA kernels (the emulation test launches them the same way):
 * elementwise kernels loop over the tensor in blocks of 256 threads; row kernels run one block per
 * row of whole warps, at most 256 threads, each looping over the rest of its row; the bf16 row
 * kernels run one warp per row, 4 rows to a block of 128 threads. */
static inline unsigned loraort_elementwise_blocks(int64_t n) {
  int64_t blocks = (n + 255) / 256;
  return blocks > 65535 ? 65535 : (unsigned)blocks;
}
static inline unsigned loraort_row_threads(int64_t h) {
  return h >= 256 ? 256 : (unsigned)((h + 31) / 32 * 32);
}
static inline unsigned loraort_warp_row_blocks(int64_t rows) { return (unsigned)((rows + 3) / 4); }
#define LORAORT_ELEMENTWISE_THREADS 256
#define LORAORT_WARP_ROW_THREADS 128

/* The CUDA C source of the same kernels (kernels_cuda.c), compiled at run time by NVRTC. */
extern const char* const LORAORT_CUDA_SOURCE;

#endif
