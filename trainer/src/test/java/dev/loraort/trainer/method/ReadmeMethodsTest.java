package dev.loraort.trainer.method;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The README's method table and --method synopsis follow the registry: a method added, renamed or
 * given other defaults fails here until the README says so (the failure prints the table to paste).
 */
class ReadmeMethodsTest {
  private static final Path README = Path.of("../README.md");

  private static final String HEADER =
      "| `--method` | passes | what it does | settings (defaults) |";

  @Test
  void theMethodTableIsTheRegistrys() throws IOException {
    List<String> lines = Files.readAllLines(README);
    int from = lines.indexOf(HEADER);
    assertThat(from).as("README.md has no line %s", HEADER).isNotNegative();
    int to = from;
    while (to < lines.size() && lines.get(to).startsWith("|")) {
      to++;
    }
    assertThat(String.join("\n", lines.subList(from, to)) + "\n").isEqualTo(table());
  }

  @Test
  void theTrainSynopsisListsEveryMethod() throws IOException {
    assertThat(Files.readString(README))
        .contains("[--method " + String.join("|", Methods.IDS) + "]");
  }

  /** One row per method; neighbours that differ only in id share a row (lora-obar, lora-nbar). */
  static String table() {
    List<List<String>> ids = new ArrayList<>();
    List<List<String>> rest = new ArrayList<>();
    for (MethodSpec<?> m : Methods.ALL) {
      List<String> cells =
          List.of(
              Integer.toString(m.create(m.defaults()).passes()),
              m.summary().replace("|", "\\|"),
              m.settings().isEmpty()
                  ? ""
                  : m.settings().stream()
                      .map(d -> d.setting().flag() + " " + d.shown())
                      .collect(Collectors.joining(" ", "`", "`")));
      int last = rest.size() - 1;
      if (last >= 0 && rest.get(last).equals(cells)) {
        ids.get(last).add(m.id());
      } else {
        ids.add(new ArrayList<>(List.of(m.id())));
        rest.add(cells);
      }
    }
    StringBuilder b = new StringBuilder();
    b.append(HEADER).append('\n');
    b.append("| --- | --- | --- | --- |\n");
    for (int i = 0; i < ids.size(); i++) {
      List<String> row = new ArrayList<>();
      row.add(ids.get(i).stream().map(id -> "`" + id + "`").collect(Collectors.joining(", ")));
      row.addAll(rest.get(i));
      b.append(
          row.stream()
              .map(c -> c.isEmpty() ? " " : " " + c + " ")
              .collect(Collectors.joining("|", "|", "|\n")));
    }
    return b.toString();
  }
}
