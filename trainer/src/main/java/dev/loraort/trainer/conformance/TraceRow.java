package dev.loraort.trainer.conformance;

import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One step of a trace, as any trainer writes it: step, loss, and, where the method has one, the
 * norm of its perturbation (NaN if absent).
 *
 * @param step 1-based step
 * @param loss the step's (first pass) loss
 * @param perturbationNorm the perturbation's norm, or NaN
 */
public record TraceRow(long step, double loss, double perturbationNorm) {
  /**
   * Reads a JSONL trace (this trainer's --trace format, or a golden trace.jsonl).
   *
   * @param file the trace
   * @return its rows
   * @throws IOException if a line lacks step or loss; the message names file and line
   */
  public static List<TraceRow> readJsonl(Path file) throws IOException {
    List<TraceRow> rows = new ArrayList<>();
    int n = 0;
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      n++;
      if (line.isBlank()) {
        continue;
      }
      try {
        JsonObject o = JsonParser.parseString(line).getAsJsonObject();
        rows.add(
            new TraceRow(
                o.get("step").getAsLong(),
                o.get("loss").getAsDouble(),
                o.has("perturbation_norm")
                    ? o.get("perturbation_norm").getAsDouble()
                    : Double.NaN));
      } catch (JsonParseException
          | IllegalStateException
          | NullPointerException
          | UnsupportedOperationException e) {
        throw new IOException(file + ":" + n + ": expected a JSON object with step and loss", e);
      }
    }
    return rows;
  }
}
