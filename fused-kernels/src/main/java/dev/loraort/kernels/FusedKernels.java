package dev.loraort.kernels;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * The fused backward kernels: the op names train_fused graphs use (domain {@value #DOMAIN}, opset
 * {@value #OPSET}) and the ONNX Runtime custom-op library that implements them. The library is
 * built from {@code src/main/c} into this jar (Linux x86-64, when the build machine has a C
 * compiler); a session registers it with {@code SessionOptions.registerCustomOpLibrary} after
 * setting the config entries {@value #CONFIG_EP} and {@value #CONFIG_DEVICE}.
 */
public final class FusedKernels {
  /** The ops' domain. */
  public static final String DOMAIN = "dev.loraort";

  /** The domain's opset version. */
  public static final int OPSET = 1;

  /** GeluGrad(dY, X) -> dX, exact (erf) GELU. */
  public static final String GELU_GRAD = "GeluGrad";

  /** GeluTanhGrad(dY, X) -> dX, GELU's tanh approximation (GPT-2's gelu_new). */
  public static final String GELU_TANH_GRAD = "GeluTanhGrad";

  /**
   * LayerNormalizationGrad(dY, X, Scale, Mean, InvStdDev) -> dX, over the last axis, float32; dY
   * may be bfloat16 (a product's gradient).
   */
  public static final String LAYER_NORM_GRAD = "LayerNormalizationGrad";

  /**
   * SwishGrad(dY, X) -> dX for {@code Y = X sigmoid(alpha X)} (float attribute {@code alpha}, 1
   * when absent): SiLU, and CLIP's QuickGELU with alpha 1.702; float32 or bfloat16.
   */
  public static final String SWISH_GRAD = "SwishGrad";

  /**
   * Swish(X) -> Y = X sigmoid(alpha X), bfloat16 in and out (float32 inside), attribute {@code
   * alpha}: the bf16 graphs' SiLU and QuickGELU between two bfloat16 products.
   */
  public static final String SWISH = "Swish";

  /**
   * RmsNormGrad(dY, X) -> dX for {@code Y = X / sqrt(mean(X^2) + epsilon)} over the last axis
   * (float attribute {@code epsilon}, 1e-6 when absent): RMSNorm before its weight (Qwen2's),
   * float32; dY may be bfloat16 (a product's gradient).
   */
  public static final String RMS_NORM_GRAD = "RmsNormGrad";

  /**
   * RmsNormalization(X, Scale) -> Y = Scale X / sqrt(mean(X^2) + epsilon) over the last axis
   * (attribute {@code epsilon}), X float32, Y bfloat16: an RMSNorm and its weight whose result only
   * bfloat16 products read.
   */
  public static final String RMS_NORM = "RmsNormalization";

  /**
   * SoftmaxGrad(dY, Y) -> dX, over the last axis: float32, or bfloat16 in and out (float32 inside).
   */
  public static final String SOFTMAX_GRAD = "SoftmaxGrad";

  /**
   * Softmax(X) -> Y, over the last axis, bfloat16 in and out (float32 inside): the bf16 graphs'
   * attention softmax, between two bfloat16 products.
   */
  public static final String SOFTMAX = "Softmax";

  /**
   * Gelu(X) -> Y, bfloat16 in and out (float32 inside), attribute {@code approximate} (none or
   * tanh): the bf16 graphs' MLP activation, between two bfloat16 products. GeluGrad and
   * GeluTanhGrad take bfloat16 too.
   */
  public static final String GELU = "Gelu";

  /**
   * SoftmaxCrossEntropy(Logits, Labels) -> (Loss, LogSumExp): per row of Logits (all axes but the
   * last), {@code log sum exp(Logits) - Logits[label]} and the log-sum-exp, both float32 and 0
   * where the label is -100; Logits float32 or bfloat16. Attribute {@code shift}: with 1, Labels is
   * [batch, seq] and position t is scored against label t + 1 (a causal LM's next token).
   */
  public static final String SOFTMAX_CROSS_ENTROPY = "SoftmaxCrossEntropy";

  /**
   * SoftmaxCrossEntropyGrad(dLoss, Logits, Labels, LogSumExp) -> dLogits: {@code dLoss
   * (softmax(Logits) - onehot(label))}, 0 on ignored rows, in the type of Logits; attribute {@code
   * shift} as the forward's.
   */
  public static final String SOFTMAX_CROSS_ENTROPY_GRAD = "SoftmaxCrossEntropyGrad";

  /**
   * LayerNormalization(X, Scale [, Bias]) -> (Y, Mean, InvStdDev) over the last axis (attribute
   * {@code epsilon}), X float32, Y bfloat16: a LayerNorm whose output only bfloat16 products read.
   */
  public static final String LAYER_NORM = "LayerNormalization";

  /** Session config entry: which kernels the library registers, {@code cpu} or {@code cuda}. */
  public static final String CONFIG_EP = "loraort.kernels.ep";

  /** Session config entry: the GPU the CUDA kernels are compiled for. */
  public static final String CONFIG_DEVICE = "loraort.kernels.device";

  private static final String RESOURCE = "/native/linux-x86_64/libloraort_kernels.so";
  private static Path extracted;

  private FusedKernels() {}

  /**
   * @return true if this jar carries the library for this platform (it was built with a C compiler,
   *     on Linux x86-64); whether ONNX Runtime can register it is another question
   */
  public static boolean bundled() {
    return platformSupported() && FusedKernels.class.getResource(RESOURCE) != null;
  }

  private static boolean platformSupported() {
    String arch = System.getProperty("os.arch");
    return System.getProperty("os.name").toLowerCase(Locale.ROOT).contains("linux")
        && (arch.equals("amd64") || arch.equals("x86_64"));
  }

  /**
   * The library, copied once per process from this jar to a temporary file (ONNX Runtime loads
   * libraries from paths).
   *
   * @return the library's path
   * @throws IllegalStateException naming why there is none: another platform, or a jar built
   *     without a C compiler
   */
  public static synchronized Path library() {
    if (extracted != null) {
      return extracted;
    }
    if (!platformSupported()) {
      throw new IllegalStateException(
          "the fused kernels are built for Linux x86-64 only; this is "
              + System.getProperty("os.name")
              + " "
              + System.getProperty("os.arch"));
    }
    try (InputStream in = FusedKernels.class.getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException(
            "this build has no fused-kernel library ("
                + RESOURCE
                + " is missing from the"
                + " fused-kernels jar: it was built without a C compiler at /usr/bin/cc)");
      }
      Path f = Files.createTempFile("libloraort_kernels", ".so");
      f.toFile().deleteOnExit();
      Files.copy(in, f, StandardCopyOption.REPLACE_EXISTING);
      extracted = f;
      return f;
    } catch (IOException e) {
      throw new IllegalStateException(
          "cannot copy the fused-kernel library out of its jar: " + e, e);
    }
  }
}
