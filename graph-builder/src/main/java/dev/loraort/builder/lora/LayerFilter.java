package dev.loraort.builder.lora;

import dev.loraort.builder.BuildException;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * PEFT's {@code layers_to_transform} and {@code layers_pattern} ({@code
 * peft.tuners.tuners_utils.check_target_module_exists}): a target module keeps its LoRA only if its
 * name has a layer index, {@code .<pattern>.<index>.}, that is in the list. Without a pattern the
 * index is the number after the last {@code .<name>.<digits>.} of the module name (PEFT's {@code
 * .*\.[^.]*\.(\d+)\.}); with patterns, the first pattern that matches gives it.
 *
 * @param layers the layer indices to adapt; empty: every layer (no filter)
 * @param patterns the names of the layer lists (e.g. {@code layer}, {@code h}, {@code layers});
 *     empty: any
 */
public record LayerFilter(List<Integer> layers, List<String> patterns) {
  /** No filter: every target module keeps its LoRA. */
  public static final LayerFilter ALL = new LayerFilter(List.of(), List.of());

  /** Validates and copies. */
  public LayerFilter {
    layers = List.copyOf(layers);
    patterns = List.copyOf(patterns);
    for (int l : layers) {
      if (l < 0) {
        throw new BuildException("--layers-to-transform: layer indices are >= 0, got " + l);
      }
    }
    if (layers.isEmpty() && !patterns.isEmpty()) {
      throw new BuildException("--layers-pattern needs --layers-to-transform");
    }
  }

  /**
   * @param layers comma-separated indices, or null for every layer
   * @param patterns comma-separated layer-list names, or null for any
   * @return the filter
   * @throws BuildException for an index that is not a non-negative integer
   */
  public static LayerFilter parse(String layers, String patterns) {
    if (layers == null || layers.isBlank()) {
      return new LayerFilter(List.of(), Targets.split(patterns));
    }
    try {
      return new LayerFilter(
          Targets.split(layers).stream().map(Integer::valueOf).toList(), Targets.split(patterns));
    } catch (NumberFormatException e) {
      throw new BuildException(
          "--layers-to-transform " + layers + ": expected layer indices such as 0,1,2", e);
    }
  }

  /**
   * @param module a module its targets matched
   * @return true if it keeps its LoRA
   */
  public boolean accepts(String module) {
    if (layers.isEmpty()) {
      return true;
    }
    Integer index = null;
    if (patterns.isEmpty()) {
      index = index(Pattern.compile(".*\\.[^.]*\\.(\\d+)\\."), module);
    } else {
      for (String p : patterns) {
        index = index(Pattern.compile(".*\\." + Pattern.quote(p) + "\\.(\\d+)\\."), module);
        if (index != null) {
          break;
        }
      }
    }
    return index != null && layers.contains(index);
  }

  /** PEFT uses re.match: the pattern must match at the start, not the whole name. */
  private static Integer index(Pattern p, String module) {
    Matcher m = p.matcher(module);
    if (!m.lookingAt()) {
      return null;
    }
    try {
      return Integer.valueOf(m.group(1));
    } catch (NumberFormatException e) {
      return null; // more digits than any layer list has
    }
  }

  @Override
  public String toString() {
    return layers.isEmpty()
        ? "every layer"
        : "layers " + layers + (patterns.isEmpty() ? "" : " of " + patterns);
  }
}
