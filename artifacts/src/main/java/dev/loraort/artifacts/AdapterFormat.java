package dev.loraort.artifacts;

import java.util.Locale;

/** The adapter formats, by their {@code --format} names. */
public enum AdapterFormat {
  /** An ONNX file of initializers only, contract names, with metadata (adapter.onnx). */
  ONNX("onnx"),
  /** ONNX Runtime's .onnx_adapter (flatbuffers), applied with OrtLoraAdapter. */
  ORT_ADAPTER("ort-adapter"),
  /** A Hugging Face PEFT directory. */
  PEFT("peft"),
  /** infer.onnx with the adapter folded into the base weights. */
  MERGED("merged"),
  /** A safetensors file under contract names, with rank/alpha/scale metadata. */
  SAFETENSORS("safetensors");

  /** The --format value. */
  public final String cli;

  AdapterFormat(String cli) {
    this.cli = cli;
  }

  /**
   * @param s a --format value
   * @return the format
   * @throws IllegalArgumentException listing the known values
   */
  public static AdapterFormat parse(String s) {
    for (AdapterFormat f : values()) {
      if (f.cli.equals(s.toLowerCase(Locale.ROOT))) {
        return f;
      }
    }
    throw new IllegalArgumentException(
        "--format " + s + ": expected onnx, ort-adapter, peft, merged or safetensors");
  }
}
