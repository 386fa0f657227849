package dev.loraort.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TextDatasetTest {
  @TempDir Path dir;

  @Test
  void csvWithQuotesCommasAndNewlines() throws IOException {
    Path f = dir.resolve("d.csv");
    Files.writeString(
        f, "label,text\n1,\"Great, \"\"really\"\" great.\nTwo lines.\"\n0,meh\n1,meh\n");
    assertThat(TextDataset.isText(f)).isTrue();
    List<TextDataset.Row> rows = TextDataset.read(f, TextDataset.Fields.defaults());
    assertThat(rows).hasSize(3);
    assertThat(rows.get(0).text()).isEqualTo("Great, \"really\" great.\nTwo lines.");
    assertThat(rows.get(0).label()).isEqualTo(1);
    assertThat(rows.get(2).text()).isEqualTo("meh");
  }

  @Test
  void aJsonArrayWithItsOwnFieldNames() throws IOException {
    Path f = dir.resolve("reviews.json");
    Files.writeString(f, "[{\"t\": \"good film\", \"s\": 1}, {\"t\": \"dull\", \"s\": 0}]");
    assertThat(TextDataset.isText(f)).isTrue();
    List<TextDataset.Row> rows = TextDataset.read(f, new TextDataset.Fields("t", null, "s"));
    assertThat(rows).extracting(TextDataset.Row::text).containsExactly("good film", "dull");
    assertThat(rows).extracting(TextDataset.Row::label).containsExactly(1, 0);
    Files.writeString(f, "[{\"t\": \"x\", \"s\": 1}, 3]");
    assertThatThrownBy(() -> TextDataset.read(f, new TextDataset.Fields("t", null, "s")))
        .hasMessageContaining(f + ": element 1: not a JSON object");
  }

  @Test
  void pairsWithoutLabelsForEmbeddingModels() throws IOException {
    Path f = dir.resolve("pairs.jsonl");
    Files.writeString(f, "{\"text\": \"q\", \"pair\": \"a\"}\n");
    List<TextDataset.Row> rows =
        TextDataset.read(f, new TextDataset.Fields("text", "pair", "label").withoutLabel());
    assertThat(rows).containsExactly(new TextDataset.Row("q", "a", -1));
  }

  @Test
  void errorsNameFileRowAndField() throws IOException {
    Path f = dir.resolve("d.jsonl");
    Files.writeString(
        f, "{\"text\": \"ok\", \"label\": 1}\n{\"text\": \"bad\", \"label\": \"pos\"}\n");
    assertThat(TextDataset.isText(f)).isTrue();
    assertThatThrownBy(() -> TextDataset.read(f, TextDataset.Fields.defaults()))
        .hasMessageContaining(
            f + ":2: field label holds 'pos', not a class number: name the classes")
        .hasMessageContaining("--labels");
    Path csv = dir.resolve("d.csv");
    Files.writeString(csv, "review,label\nx,1\n");
    assertThatThrownBy(() -> TextDataset.read(csv, TextDataset.Fields.defaults()))
        .hasMessageContaining("no column text");
    Path other = dir.resolve("t.jsonl");
    Files.writeString(other, "{\"t\": \"great\", \"s\": 1}\n");
    assertThatThrownBy(() -> TextDataset.read(other, TextDataset.Fields.defaults()))
        .hasMessageContaining(other + ":1: missing field text (the line has [t, s]; --text-field");
    Path ids = dir.resolve("ids.jsonl");
    Files.writeString(ids, "{\"input_ids\": [0, 5, 2], \"labels\": 1}\n");
    assertThat(TextDataset.isText(ids)).isFalse();
  }
}
