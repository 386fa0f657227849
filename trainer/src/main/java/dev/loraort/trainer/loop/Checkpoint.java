package dev.loraort.trainer.loop;

import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.safetensors.Safetensors;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The whole training state after a step: parameters, optimizer state, method state (EMA, auxiliary
 * branch), the loss scale of a mixed-precision run, the step, the data position and the config it
 * belongs to. Written as one safetensors file through a temporary file and a rename, with a sha256
 * over every metadata field and every tensor's name, dtype, shape and bytes, which reading checks
 * (an edited step or data position is as corrupt as a flipped bit); random streams need no saving
 * (initialization, data order and method streams are derived from the seed, and the data position
 * is stored).
 *
 * @param step completed optimizer steps
 * @param params parameter tensors
 * @param optimizer the optimizer chain's state tensors
 * @param method the method's state tensors
 * @param lossScaler the loss scaler's state (mixed precision; empty in fp32)
 * @param dataPosition the batch source's position
 * @param configJson the run's TrainConfig as JSON
 */
public record Checkpoint(
    long step,
    Map<String, Tensor> params,
    Map<String, Tensor> optimizer,
    Map<String, Tensor> method,
    Map<String, Tensor> lossScaler,
    long[] dataPosition,
    String configJson) {

  /** The checkpoint's file name in a run directory. */
  public static final String FILE = "checkpoint.safetensors";

  private static final String P = "params.";
  private static final String O = "optimizer.";
  private static final String M = "method.";
  private static final String S = "loss_scaler.";

  /** The metadata fields the checksum covers, in its order. */
  private static final String[] FIELDS = {"step", "data_epoch", "data_cursor", "config"};

  /** Format 1 summed tensor names and bytes only. */
  private static final String FORMAT = "2";

  /**
   * @param path the file (replaced atomically)
   * @throws IOException if writing fails; an existing checkpoint then stays intact
   */
  public void write(Path path) throws IOException {
    Map<String, Tensor> all = new LinkedHashMap<>();
    params.forEach((k, v) -> all.put(P + k, v));
    optimizer.forEach((k, v) -> all.put(O + k, v));
    method.forEach((k, v) -> all.put(M + k, v));
    lossScaler.forEach((k, v) -> all.put(S + k, v));
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("step", Long.toString(step));
    meta.put("data_epoch", Long.toString(dataPosition[0]));
    meta.put("data_cursor", Long.toString(dataPosition[1]));
    meta.put("config", configJson);
    meta.put("format", FORMAT);
    meta.put("sha256", digest(meta, all));
    Safetensors.write(path, all, meta);
  }

  /**
   * @param path a checkpoint file
   * @return the checkpoint
   * @throws IOException if it is missing, malformed, or its checksum does not match
   */
  public static Checkpoint read(Path path) throws IOException {
    Safetensors.Contents c;
    try {
      c = Safetensors.read(path);
    } catch (NoSuchFileException e) {
      throw new IOException(path + " not found: nothing to resume", e);
    }
    Map<String, String> meta = c.metadata();
    for (String k : new String[] {"step", "data_epoch", "data_cursor", "config", "sha256"}) {
      if (!meta.containsKey(k)) {
        throw new IOException(
            path + ": metadata has no " + k + "; not a checkpoint of this trainer");
      }
    }
    if (!FORMAT.equals(meta.get("format"))) {
      throw new IOException(
          path
              + ": checkpoint format "
              + meta.getOrDefault("format", "1")
              + " (its checksum leaves the step and data position out); this trainer resumes"
              + " format "
              + FORMAT
              + " only: finish that run with the trainer that wrote it, or start over");
    }
    if (!digest(meta, c.tensors()).equals(meta.get("sha256"))) {
      throw new IOException(
          path
              + ": checksum mismatch (it covers the step, data position, config and every"
              + " tensor's name, dtype, shape and bytes); the checkpoint is corrupt or was edited");
    }
    long step = count(path, meta, "step");
    long epoch = count(path, meta, "data_epoch");
    long cursor = count(path, meta, "data_cursor");
    Map<String, Tensor> p = new LinkedHashMap<>();
    Map<String, Tensor> o = new LinkedHashMap<>();
    Map<String, Tensor> m = new LinkedHashMap<>();
    Map<String, Tensor> s = new LinkedHashMap<>();
    c.tensors()
        .forEach(
            (k, v) -> {
              if (k.startsWith(P)) {
                p.put(k.substring(P.length()), v);
              } else if (k.startsWith(O)) {
                o.put(k.substring(O.length()), v);
              } else if (k.startsWith(M)) {
                m.put(k.substring(M.length()), v);
              } else if (k.startsWith(S)) {
                s.put(k.substring(S.length()), v);
              }
            });
    return new Checkpoint(step, p, o, m, s, new long[] {epoch, cursor}, meta.get("config"));
  }

  private static long count(Path path, Map<String, String> meta, String field) throws IOException {
    try {
      long v = Long.parseLong(meta.get(field));
      if (v >= 0) {
        return v;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IOException(
        path + ": metadata " + field + " is '" + meta.get(field) + "'; expected a count >= 0");
  }

  /** sha256 over the metadata fields and every tensor's name, dtype, shape and bytes. */
  private static String digest(Map<String, String> meta, Map<String, Tensor> tensors) {
    MessageDigest d = sha256();
    for (String f : FIELDS) {
      field(d, f);
      field(d, meta.get(f));
    }
    for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
      field(d, e.getKey());
      field(d, e.getValue().dtype().name());
      field(d, java.util.Arrays.toString(e.getValue().shape()));
      d.update(Safetensors.toBytes(e.getValue()));
    }
    return HexFormat.of().formatHex(d.digest());
  }

  /** A string and a terminator, so that no two field lists hash alike. */
  private static void field(MessageDigest d, String v) {
    d.update((v == null ? "" : v).getBytes(java.nio.charset.StandardCharsets.UTF_8));
    d.update((byte) 0);
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every JVM", e);
    }
  }
}
