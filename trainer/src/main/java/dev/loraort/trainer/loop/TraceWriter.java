package dev.loraort.trainer.loop;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes one JSON line per step: step, loss, lr, grad_norm, seconds, host_seconds, copy_seconds,
 * method_seconds, optimizer_seconds, and perturbation_norm for methods that perturb
 * deterministically. Owns the file; close it.
 */
public final class TraceWriter implements StepListener, AutoCloseable {
  private final Path path;
  private final BufferedWriter out;
  private boolean closed;

  /**
   * @param path the trace file: replaced, or on a resume kept up to {@code keepUpToStep} and
   *     appended to
   * @param keepUpToStep 0 for a new run; a resumed run's checkpoint step (lines after it are
   *     dropped: a killed run may have traced steps its checkpoint does not hold)
   * @throws IOException if it cannot be created
   */
  public TraceWriter(Path path, long keepUpToStep) throws IOException {
    this.path = path;
    Files.createDirectories(path.toAbsolutePath().getParent());
    List<String> kept = new ArrayList<>();
    if (keepUpToStep > 0 && Files.exists(path)) {
      for (String line : Files.readAllLines(path, StandardCharsets.UTF_8)) {
        try {
          if (JsonParser.parseString(line).getAsJsonObject().get("step").getAsLong()
              <= keepUpToStep) {
            kept.add(line);
          }
        } catch (RuntimeException e) {
          break; // a line cut off by the kill ends what can be kept
        }
      }
    }
    this.out = Files.newBufferedWriter(path, StandardCharsets.UTF_8);
    for (String line : kept) {
      out.write(line);
      out.write('\n');
    }
    out.flush();
  }

  @Override
  public void onStep(StepRecord r) {
    JsonObject o = new JsonObject();
    o.addProperty("step", r.step());
    o.addProperty("loss", r.loss());
    o.addProperty("lr", r.lr());
    o.addProperty("grad_norm", r.gradNorm());
    o.addProperty("seconds", r.seconds());
    o.addProperty("host_seconds", r.times().host());
    o.addProperty("copy_seconds", r.times().copies());
    o.addProperty("method_seconds", r.times().method());
    o.addProperty("optimizer_seconds", r.times().optimizer());
    o.addProperty("data_seconds", r.times().data());
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
