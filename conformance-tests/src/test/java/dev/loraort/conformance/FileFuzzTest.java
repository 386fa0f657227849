package dev.loraort.conformance;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraort.artifacts.AdapterFormat;
import dev.loraort.artifacts.AdapterWeights;
import dev.loraort.artifacts.Adapters;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.artifacts.onnx.OnnxFile;
import dev.loraort.trainer.graph.Fixture;
import dev.loraort.trainer.loop.Checkpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every file the trainer reads is untrusted: byte-level mutations of valid files (bit flips,
 * boundary values written over counts and offsets, truncation, inserted and deleted spans), each
 * read as the CLI reads it. The only outcomes allowed: a correct load, or an IOException whose
 * message names the file. No other exception, no OutOfMemoryError (the default heap), no hang.
 * {@code -Dfuzz.mutations=N} sets the count per format (the fuzz profile: 100,000).
 */
class FileFuzzTest {
  private static final int MUTATIONS = Integer.getInteger("fuzz.mutations", 2000);

  @TempDir static Path dir;
  private static Manifest model;
  private static final Map<String, Path> VALID = new LinkedHashMap<>();

  /** A reader under test: loads the file at the path (a directory for PEFT). */
  @FunctionalInterface
  interface Reader {
    void read(Path p) throws IOException;
  }

  @BeforeAll
  static void validFiles() throws IOException {
    model = Manifest.read(Path.of("../onnx-models/tiny-roberta-cls"));
    AdapterWeights a = AdapterFormatsTest.adapter(model, Fixture.read(model.dir()));
    Map<AdapterFormat, String> names =
        Map.of(
            AdapterFormat.ONNX, "adapter.onnx",
            AdapterFormat.ORT_ADAPTER, "adapter.onnx_adapter",
            AdapterFormat.SAFETENSORS, "adapter.safetensors",
            AdapterFormat.PEFT, "peft",
            AdapterFormat.MERGED, "merged.onnx");
    for (AdapterFormat f : AdapterFormat.values()) {
      Path p = dir.resolve("valid").resolve(names.get(f));
      Files.createDirectories(p.getParent());
      Adapters.write(p, f, a, model);
      VALID.put(f.cli, p);
    }
    Path ckpt = dir.resolve("valid").resolve("checkpoint.safetensors");
    new Checkpoint(3, a.tensors(), a.tensors(), Map.of(), Map.of(), new long[] {1, 16}, "{}")
        .write(ckpt);
    VALID.put("checkpoint", ckpt);
    Path modelDir = dir.resolve("valid").resolve("model");
    Files.createDirectories(modelDir);
    Files.copy(model.dir().resolve(Manifest.FILE), modelDir.resolve(Manifest.FILE));
    VALID.put("manifest", modelDir);
  }

  static Stream<String> formats() {
    return Stream.of(
        "onnx", "ort-adapter", "safetensors", "peft", "merged", "checkpoint", "manifest");
  }

  private static Reader reader(String format) {
    switch (format) {
      case "checkpoint":
        return Checkpoint::read;
      case "manifest":
        return Manifest::read;
      case "merged":
        return OnnxFile::read;
      default:
        return p -> Adapters.read(p, model);
    }
  }

  /** The file a format's mutations go into (a PEFT directory's weights and config alternate). */
  private static Path target(String format, Path copy, int k) {
    if (format.equals("peft")) {
      return copy.resolve(k % 2 == 0 ? "adapter_model.safetensors" : "adapter_config.json");
    }
    return format.equals("manifest") ? copy.resolve(Manifest.FILE) : copy;
  }

  @ParameterizedTest
  @MethodSource("formats")
  void mutatedFilesLoadOrFailNamingTheFile(String format) throws Exception {
    Path valid = VALID.get(format);
    Reader r = reader(format);
    r.read(valid); // the valid file loads
    Path copy = dir.resolve("mutant-" + format).resolve(valid.getFileName());
    Files.createDirectories(copy.getParent());
    copyTree(valid, copy);
    SplittableRandom rnd = new SplittableRandom(format.hashCode());
    int loaded = 0;
    int refused = 0;
    List<String> wrong = new ArrayList<>();
    for (int k = 0; k < MUTATIONS; k++) {
      Path t = target(format, copy, k);
      Path original = target(format, valid, k);
      byte[] bytes = mutate(Files.readAllBytes(original), rnd);
      Files.write(t, bytes);
      try {
        r.read(copy);
        loaded++;
      } catch (IOException e) {
        refused++;
        if (e.getMessage() == null || !e.getMessage().contains(copy.toString())) {
          wrong.add("#" + k + " IOException not naming the file: " + e.getMessage());
        }
      } catch (Throwable e) { // OutOfMemoryError and StackOverflowError included
        wrong.add("#" + k + " " + e);
      } finally {
        Files.write(t, Files.readAllBytes(original));
      }
    }
    System.out.printf(
        Locale.ROOT,
        "fuzz %s: %d mutations, %d loaded, %d refused with a typed error, %d other outcomes%n",
        format,
        MUTATIONS,
        loaded,
        refused,
        wrong.size());
    assertThat(wrong).as(format).isEmpty();
  }

  private static void copyTree(Path from, Path to) throws IOException {
    if (Files.isDirectory(from)) {
      Files.createDirectories(to);
      try (Stream<Path> s = Files.list(from)) {
        for (Path p : s.toList()) {
          Files.copy(p, to.resolve(p.getFileName()));
        }
      }
    } else {
      Files.copy(from, to);
    }
  }

  /** One seeded mutation: the kinds real corruption and hostile edits produce. */
  static byte[] mutate(byte[] b, SplittableRandom rnd) {
    byte[] out = b.clone();
    int n = out.length;
    switch (rnd.nextInt(7)) {
      case 0: // flip bits
        for (int i = 0, m = 1 + rnd.nextInt(4); i < m; i++) {
          int at = rnd.nextInt(n);
          out[at] ^= (byte) (1 << rnd.nextInt(8));
        }
        return out;
      case 1: // a boundary value over a little-endian count or offset
        {
          long[] values = {
            0,
            -1,
            1,
            0x7f,
            0xff,
            0x7fff_ffffL,
            0xffff_ffffL,
            1L << 40,
            Long.MAX_VALUE,
            Long.MIN_VALUE
          };
          long v = values[rnd.nextInt(values.length)];
          int width = rnd.nextBoolean() ? 4 : 8;
          int at = rnd.nextInt(Math.max(1, n - width));
          for (int i = 0; i < width && at + i < n; i++) {
            out[at + i] = (byte) (v >>> (8 * i));
          }
          return out;
        }
      case 2: // truncated
        return java.util.Arrays.copyOf(out, rnd.nextInt(n));
      case 3: // a span deleted
        {
          int at = rnd.nextInt(n);
          int len = 1 + rnd.nextInt(Math.min(64, n - at));
          byte[] d = new byte[n - len];
          System.arraycopy(out, 0, d, 0, at);
          System.arraycopy(out, at + len, d, at, n - at - len);
          return d;
        }
      case 4: // random bytes inserted
        {
          int at = rnd.nextInt(n + 1);
          byte[] ins = new byte[1 + rnd.nextInt(16)];
          for (int i = 0; i < ins.length; i++) {
            ins[i] = (byte) rnd.nextInt(256);
          }
          byte[] d = new byte[n + ins.length];
          System.arraycopy(out, 0, d, 0, at);
          System.arraycopy(ins, 0, d, at, ins.length);
          System.arraycopy(out, at, d, at + ins.length, n - at);
          return d;
        }
      case 5: // a digit changed (JSON numbers, text metadata)
        {
          for (int tries = 0; tries < 32; tries++) {
            int at = rnd.nextInt(n);
            if (out[at] >= '0' && out[at] <= '9') {
              out[at] = (byte) "0123456789-.e".charAt(rnd.nextInt(13));
              return out;
            }
          }
          return out;
        }
      default: // a byte set to a boundary value
        out[rnd.nextInt(n)] = (byte) new int[] {0, 0xff, 0x7f, 0x80, '"', '{', ']'}[rnd.nextInt(7)];
        return out;
    }
  }
}
