package dev.loraort.trainer.loop;

import static org.assertj.core.api.Assertions.assertThat;

import dev.loraort.artifacts.protobuf.Protobuf;
import dev.loraort.trainer.plot.SvgDocuments;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetricsLogTest {
  @TempDir Path dir;

  @Test
  void writesCsvTensorBoardRecordsAndAPlot() throws Exception {
    try (MetricsLog log = new MetricsLog(dir)) {
      for (int s = 1; s <= 4; s++) {
        log.onStep(
            new StepRecord(
                s, 4, 1.0 / s, 1e-3, 0.5, new StepTimes(0.01, 0.009, 0, 0, 0, 0), Double.NaN));
        if (s % 2 == 0) {
          log.onEvaluation(s, Map.of("accuracy", 0.5 + 0.1 * s, "mcc", 0.1 * s));
        }
      }
    }
    assertThat(Files.readAllLines(dir.resolve(MetricsLog.CSV)))
        .containsExactly(
            "step,train_loss,accuracy,mcc",
            "2,0.500000,0.700000,0.200000",
            "4,0.250000,0.900000,0.400000");
    // 900 x 420: steps 0-4 across x 70-830, loss 0.25-1 and accuracy 0-1 down y 40-370
    assertThat(
            SvgDocuments.elements(SvgDocuments.read(dir.resolve(MetricsLog.CHART)), "polyline")
                .stream()
                .map(e -> e.getAttribute("points")))
        .containsExactly("260,40 450,260 640,333 830,370", "450,139 830,73");
    Path events;
    try (var s = Files.list(dir)) {
      events =
          s.filter(p -> p.getFileName().toString().startsWith("events.out.tfevents."))
              .findFirst()
              .orElseThrow();
    }
    // TFRecord framing: length, masked crc32c of the length, event, masked crc32c of the event
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(events)).order(ByteOrder.LITTLE_ENDIAN);
    int records = 0;
    String first = null;
    byte[] second = null;
    while (b.hasRemaining()) {
      long len = b.getLong(b.position());
      byte[] lenBytes = new byte[8];
      b.get(lenBytes);
      assertThat(b.getInt()).isEqualTo(masked(lenBytes));
      byte[] event = new byte[(int) len];
      b.get(event);
      assertThat(b.getInt()).isEqualTo(masked(event));
      if (first == null) {
        first = new String(event, StandardCharsets.ISO_8859_1);
      } else if (second == null) {
        second = event;
      }
      records++;
    }
    assertThat(first).contains("brain.Event:2");
    // the first scalar: Event{step = 1, summary{value{tag, simple_value}}} (event.proto numbers)
    Protobuf.Reader e = new Protobuf.Reader(second, 0, second.length, "event");
    long step = -1;
    String tag = null;
    float value = Float.NaN;
    while (e.next()) {
      if (e.field() == 2) {
        step = e.varint();
      } else if (e.field() == 5) {
        Protobuf.Reader summary = e.message("summary");
        summary.next();
        Protobuf.Reader v = summary.message("value");
        while (v.next()) {
          if (v.field() == 1) {
            tag = v.string();
          } else {
            v.skip();
            byte[] f = v.rawField(); // tag byte, then the float's 4 little-endian bytes
            value = ByteBuffer.wrap(f, 1, 4).order(ByteOrder.LITTLE_ENDIAN).getFloat();
          }
        }
      } else {
        e.skip();
      }
    }
    assertThat(step).isEqualTo(1);
    assertThat(tag).isEqualTo("train/loss");
    assertThat(value).isEqualTo(1.0f);
    assertThat(records).isEqualTo(1 + 4 * 3 + 2 * 2); // version, 3 scalars a step, 2 per evaluation
  }

  static int masked(byte[] b) {
    CRC32C c = new CRC32C();
    c.update(b);
    int crc = (int) c.getValue();
    return ((crc >>> 15) | (crc << 17)) + 0xa282ead8;
  }

  @Test
  void aLossThatIsNotFiniteIsLeftOutOfTheChartOnly() throws Exception {
    try (MetricsLog log = new MetricsLog(dir)) {
      for (int s = 1; s <= 3; s++) {
        double loss = s == 2 ? Double.NaN : 1.0 / s;
        log.onStep(
            new StepRecord(
                s, 3, loss, 1e-3, 0.5, new StepTimes(0.01, 0.009, 0, 0, 0, 0), Double.NaN));
      }
    }
    assertThat(SvgDocuments.elements(SvgDocuments.read(dir.resolve(MetricsLog.CHART)), "circle"))
        .hasSize(2);
  }
}
