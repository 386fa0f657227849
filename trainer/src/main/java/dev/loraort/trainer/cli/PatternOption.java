package dev.loraort.trainer.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Parses {@code --rank-pattern} / {@code --alpha-pattern} values, {@code KEY=V[,KEY=V...]}, into a
 * map in the order given (the first matching key wins). A key is a regex, so entries split at
 * commas outside brackets ({@code layer\.{0,2}\.query=4} stays one entry) and a key ends at the
 * last {@code =}.
 */
final class PatternOption {
  private PatternOption() {}

  /**
   * @param option the option's name, for messages
   * @param values the option's values (it may be repeated), or null
   * @param number parses a value
   * @param <V> the value type
   * @return key to value, in order
   * @throws IllegalArgumentException naming the option and the entry that does not parse, or a key
   *     given twice
   */
  static <V> Map<String, V> parse(String option, List<String> values, Function<String, V> number) {
    Map<String, V> out = new LinkedHashMap<>();
    for (String v : values == null ? List.<String>of() : values) {
      for (String entry : entries(v)) {
        int eq = entry.lastIndexOf('=');
        String key = eq < 0 ? "" : entry.substring(0, eq).trim();
        if (key.isEmpty()) {
          throw new IllegalArgumentException(
              option + " " + entry + ": expected KEY=VALUE (a module name or regex, then '=')");
        }
        V value;
        try {
          value = number.apply(entry.substring(eq + 1).trim());
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException(
              option + " " + entry + ": '" + entry.substring(eq + 1) + "' is not a number", e);
        }
        if (out.put(key, value) != null) {
          throw new IllegalArgumentException(option + ": key " + key + " is given twice");
        }
      }
    }
    return out;
  }

  /** Splits at commas that are outside (), [] and {}. */
  private static List<String> entries(String v) {
    List<String> out = new ArrayList<>();
    int depth = 0;
    int from = 0;
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      if (c == '\\') {
        i++; // an escaped character is never a bracket or a separator
      } else if (c == '(' || c == '[' || c == '{') {
        depth++;
      } else if (c == ')' || c == ']' || c == '}') {
        depth--;
      } else if (c == ',' && depth == 0) {
        out.add(v.substring(from, i));
        from = i + 1;
      }
    }
    out.add(v.substring(from));
    return out.stream().filter(s -> !s.isBlank()).toList();
  }
}
