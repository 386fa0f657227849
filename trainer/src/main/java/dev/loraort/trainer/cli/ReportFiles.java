package dev.loraort.trainer.cli;

import dev.loraort.artifacts.AtomicFiles;
import dev.loraort.trainer.conformance.ConformanceReport;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --json} and {@code --junit-xml}: a conformance report for machines, beside the table. */
final class ReportFiles {
  @Option(
      names = "--json",
      paramLabel = "FILE",
      description = "also write the report as JSON (verdict, every step and tensor)")
  Path json;

  @Option(
      names = "--junit-xml",
      paramLabel = "FILE",
      description = "also write JUnit XML (a test case per step and final tensor) for CI")
  Path junit;

  void write(ConformanceReport r, String suite) throws IOException {
    if (json != null) {
      byte[] b = r.toJson().getBytes(StandardCharsets.UTF_8);
      AtomicFiles.write(json, o -> o.write(b));
    }
    if (junit != null) {
      byte[] b = r.toJUnitXml(suite).getBytes(StandardCharsets.UTF_8);
      AtomicFiles.write(junit, o -> o.write(b));
    }
  }
}
