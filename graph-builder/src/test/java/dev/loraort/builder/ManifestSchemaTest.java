package dev.loraort.builder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.builder.lora.LayerFilter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/schema/manifest.schema.json, the published form of docs/formats.md section 1, against the
 * manifests the project writes (every committed model, one prepared here) and against broken ones
 * that the Java reader refuses too.
 */
class ManifestSchemaTest {
  private static final Path SCHEMA = Path.of("../docs/schema/manifest.schema.json");
  @TempDir Path tmp;

  private static Schema schema() throws IOException {
    return SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12)
        .getSchema(Files.readString(SCHEMA), InputFormat.JSON);
  }

  private static List<String> errors(String json) throws IOException {
    return schema().validate(json, InputFormat.JSON).stream().map(Object::toString).toList();
  }

  @Test
  void everyManifestWeWriteIsValid() throws IOException {
    List<Path> committed;
    try (Stream<Path> dirs = Files.list(Path.of("../onnx-models"))) {
      committed =
          dirs.map(d -> d.resolve(Manifest.FILE)).filter(Files::isRegularFile).sorted().toList();
    }
    assertThat(committed).hasSizeGreaterThanOrEqualTo(6);
    Path prepared =
        Prepare.run(
                PrepareConfig.defaults(
                        Path.of("../onnx-models/tiny-roberta-cls/plain/model.onnx"),
                        tmp.resolve("prepared"),
                        "seq-cls")
                    .toBuilder()
                    .layers(LayerFilter.parse("1", "layer"))
                    .build())
            .dir()
            .resolve(Manifest.FILE);
    for (Path f : Stream.concat(committed.stream(), Stream.of(prepared)).toList()) {
      assertThat(errors(Files.readString(f))).as(f.toString()).isEmpty();
    }
  }

  @Test
  void brokenManifestsAreRefusedByTheSchemaAndTheReader() throws IOException {
    Path good = Path.of("../onnx-models/tiny-roberta-cls", Manifest.FILE);
    List<Consumer<JsonObject>> breaks =
        List.of(
            m -> m.getAsJsonObject("lora").remove("modules"),
            m -> m.getAsJsonObject("lora").add("modules", new JsonArray()),
            m ->
                m.getAsJsonArray("inputs").get(0).getAsJsonObject().addProperty("dtype", "float64"),
            m -> m.getAsJsonObject("graphs").remove("infer"),
            m -> m.addProperty("contract", "lora-graph/2"),
            m -> m.getAsJsonObject("lora").addProperty("default_rank", 0));
    for (Consumer<JsonObject> b : breaks) {
      JsonObject m = JsonParser.parseString(Files.readString(good)).getAsJsonObject();
      b.accept(m);
      assertThat(errors(m.toString())).as(m.toString()).isNotEmpty();
      Path dir = Files.createTempDirectory(tmp, "broken");
      Files.writeString(dir.resolve(Manifest.FILE), m.toString());
      assertThatThrownBy(() -> Manifest.read(dir)).as(m.toString()).isInstanceOf(IOException.class);
    }
  }
}
