package dev.loraort.builder.lora;

import dev.loraort.builder.BuildException;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Which modules get LoRA, by PEFT's rules for {@code target_modules} ({@code
 * peft.tuners.tuners_utils.check_target_module_exists}): a list matches a module whose name equals
 * an entry or ends with {@code .entry}; a regex must match the whole name; {@code all-linear} is
 * every linear layer but the output layer. {@code exclude} removes modules by the same list rules.
 *
 * @param names module names or suffixes (empty with a regex or all-linear)
 * @param regex a full-match pattern, or null
 * @param allLinear every linear layer except the one that computes a graph output
 * @param exclude module names or suffixes to leave out
 */
public record Targets(List<String> names, String regex, boolean allLinear, List<String> exclude) {
  /** PEFT's special value of target_modules. */
  public static final String ALL_LINEAR = "all-linear";

  /** Validates and copies. */
  public Targets {
    names = List.copyOf(names);
    exclude = List.copyOf(exclude);
    int given = (names.isEmpty() ? 0 : 1) + (regex == null ? 0 : 1) + (allLinear ? 1 : 0);
    if (given != 1) {
      throw new BuildException(
          "LoRA targets: give exactly one of a module list, a regex or all-linear");
    }
    if (regex != null) {
      try {
        Pattern.compile(regex);
      } catch (PatternSyntaxException e) {
        throw new BuildException("LoRA target regex " + regex + ": " + e.getDescription(), e);
      }
    }
  }

  /**
   * @param spec {@code all-linear} or a comma-separated module list
   * @param exclude comma-separated modules to exclude, or null
   * @return the targets
   */
  public static Targets parse(String spec, String exclude) {
    List<String> ex = split(exclude);
    if (spec.trim().equals(ALL_LINEAR)) {
      return new Targets(List.of(), null, true, ex);
    }
    List<String> names = split(spec);
    if (names.isEmpty()) {
      throw new BuildException("LoRA targets: no module names in '" + spec + "'");
    }
    return new Targets(names, null, false, ex);
  }

  /**
   * PEFT's default targets for the architecture the module names reveal (its
   * TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING): query/value (BERT, RoBERTa), q_proj/v_proj
   * (CLIP, Llama, Qwen), c_attn (GPT-2), q/v (T5); the first that names a module.
   *
   * @param modules the model's linear layers
   * @return the targets, or null when none of these names a module
   */
  public static Targets peftDefault(List<String> modules) {
    for (List<String> t :
        List.of(
            List.of("query", "value"),
            List.of("q_proj", "v_proj"),
            List.of("c_attn"),
            List.of("q", "v"))) {
      Targets c = new Targets(t, null, false, List.of());
      if (modules.stream().anyMatch(m -> c.matches(m, false))) {
        return c;
      }
    }
    return null;
  }

  /**
   * @param regex a pattern the whole module name must match
   * @param exclude comma-separated modules to exclude, or null
   * @return the targets
   */
  public static Targets regex(String regex, String exclude) {
    return new Targets(List.of(), regex, false, split(exclude));
  }

  /** Comma-separated names, trimmed, blanks dropped; null: none. */
  static List<String> split(String s) {
    List<String> out = new ArrayList<>();
    if (s != null) {
      for (String p : s.split(",")) {
        if (!p.isBlank()) {
          out.add(p.trim());
        }
      }
    }
    return out;
  }

  /**
   * @param module a module name
   * @param isOutputLayer true for the layer that computes a model output (excluded by all-linear)
   * @return true if the module gets LoRA
   */
  public boolean matches(String module, boolean isOutputLayer) {
    if (listMatch(exclude, module)) {
      return false;
    }
    if (allLinear) {
      return !isOutputLayer;
    }
    if (regex != null) {
      return Pattern.matches(regex, module);
    }
    return listMatch(names, module);
  }

  private static boolean listMatch(List<String> list, String module) {
    for (String t : list) {
      if (module.equals(t) || module.endsWith("." + t)) {
        return true;
      }
    }
    return false;
  }

  /**
   * @return the targets as PEFT's adapter_config.json writes target_modules
   */
  public Object toPeft() {
    return allLinear ? ALL_LINEAR : regex != null ? regex : names;
  }

  @Override
  public String toString() {
    return allLinear ? ALL_LINEAR : regex != null ? "regex " + regex : String.join(",", names);
  }
}
