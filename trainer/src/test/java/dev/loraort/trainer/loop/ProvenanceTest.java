package dev.loraort.trainer.loop;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ProvenanceTest {
  @Test
  void filesComeOutSortedWhateverOrderTheyWentIn() {
    // the adapter's metadata lists them in this order: it must not change between JVMs
    Map<String, String> files = new LinkedHashMap<>();
    files.put("train_rwp.onnx", "3");
    files.put("base.weights", "1");
    files.put("train.onnx", "2");
    Provenance p = new Provenance("m", "dir", "c", files, "ort", "v", "17", "os", "arch");
    assertThat(p.files().keySet()).containsExactly("base.weights", "train.onnx", "train_rwp.onnx");
  }
}
