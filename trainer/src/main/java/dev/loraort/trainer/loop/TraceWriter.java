package dev.loraort.trainer.loop;

import com.google.gson.JsonObject;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes one JSON line per step: step, loss, lr, grad_norm, seconds, host_seconds, method_seconds, and
 * perturbation_norm for methods that perturb deterministically. Owns the file; close it.
 */
public final class TraceWriter implements StepListener, AutoCloseable {
  private final Path path;
  private final BufferedWriter out;
  private boolean closed;

  /**
   * @param path the trace file (replaced)
   * @throws IOException if it cannot be created
   */
  public TraceWriter(Path path) throws IOException {
    this.path = path;
    Path dir = path.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    this.out = Files.newBufferedWriter(path, StandardCharsets.UTF_8);
  }

  @Override
  public void onStep(StepRecord r) {
    JsonObject o = new JsonObject();
    o.addProperty("step", r.step());
    o.addProperty("loss", r.loss());
    o.addProperty("lr", r.lr());
    o.addProperty("grad_norm", r.gradNorm());
    o.addProperty("seconds", r.seconds());
    o.addProperty("host_seconds", r.hostSeconds());
    o.addProperty("method_seconds", r.methodSeconds());
    if (Double.isFinite(r.perturbationNorm())) {
      o.addProperty("perturbation_norm", r.perturbationNorm());
    }
    try {
      out.write(o.toString());
      out.write('\n');
      out.flush(); // a killed run keeps every completed step
    } catch (IOException e) {
      throw new UncheckedIOException(path + ": writing the trace failed", e);
    }
  }

  /** Closes the file; idempotent. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      out.close();
    } catch (IOException e) {
      throw new UncheckedIOException(path + ": closing the trace failed", e);
    }
  }
}
