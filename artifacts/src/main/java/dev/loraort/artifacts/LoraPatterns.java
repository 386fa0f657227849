package dev.loraort.artifacts;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * PEFT's {@code rank_pattern} and {@code alpha_pattern} (LoraConfig): per-module overrides of r and
 * lora_alpha. A module's key is found by PEFT's rule ({@code get_pattern_key} in
 * peft/utils/other.py, as {@code LoraModel._create_and_replace} uses it): a key matches a module
 * name when {@code re.match(r"(.*\.)?(KEY)$", name)} does, that is when the name is the key, or
 * ends with "." and the key, the key read as a regular expression; the first matching key in
 * insertion order wins; a module no key matches keeps r and lora_alpha. PEFT's scaling is then
 * alpha_m / r_m, or alpha_m / sqrt(r_m) under use_rslora.
 *
 * <p>Keys are compiled as Java regexes where PEFT uses Python's; the two agree on what module-name
 * patterns use (literals, {@code . \. ^ $ [..] (a|b) * + ? {m,n}}). Python-only syntax such as
 * {@code (?P<name>..)} is refused here, naming the key.
 *
 * @param rankPattern module-name pattern to rank, in match order
 * @param alphaPattern module-name pattern to alpha, in match order
 */
public record LoraPatterns(Map<String, Integer> rankPattern, Map<String, Double> alphaPattern) {
  /** No overrides: every module has r and alpha. */
  public static final LoraPatterns NONE = new LoraPatterns(Map.of(), Map.of());

  /** PEFT's LoraConfig field, also the adapter metadata key. */
  public static final String RANK_PATTERN = "rank_pattern";

  /** PEFT's LoraConfig field, also the adapter metadata key. */
  public static final String ALPHA_PATTERN = "alpha_pattern";

  /** Copies both maps in order (the order decides which key wins); validates keys and values. */
  public LoraPatterns {
    rankPattern = Collections.unmodifiableMap(new LinkedHashMap<>(rankPattern));
    alphaPattern = Collections.unmodifiableMap(new LinkedHashMap<>(alphaPattern));
    for (Map.Entry<String, Integer> e : rankPattern.entrySet()) {
      compile(e.getKey(), RANK_PATTERN);
      if (e.getValue() == null || e.getValue() < 1) {
        throw new IllegalArgumentException(
            RANK_PATTERN + " " + e.getKey() + ": a rank must be >= 1, got " + e.getValue());
      }
    }
    for (Map.Entry<String, Double> e : alphaPattern.entrySet()) {
      compile(e.getKey(), ALPHA_PATTERN);
      Double a = e.getValue();
      if (a == null || !(a > 0) || a.isInfinite()) {
        throw new IllegalArgumentException(
            ALPHA_PATTERN + " " + e.getKey() + ": an alpha must be > 0 and finite, got " + a);
      }
    }
  }

  /**
   * @return true when neither map has a key
   */
  public boolean isEmpty() {
    return rankPattern.isEmpty() && alphaPattern.isEmpty();
  }

  /**
   * PEFT's {@code get_pattern_key}: the first key, in order, that matches the module.
   *
   * @param keys the patterns in insertion order
   * @param module a module name
   * @return the key, or empty when none matches (the module keeps the default)
   */
  public static Optional<String> patternKey(Collection<String> keys, String module) {
    for (String key : keys) {
      // re.match anchors at the start only; the $ in the pattern anchors the end
      if (Pattern.compile("(.*\\.)?(" + key + ")$").matcher(module).lookingAt()) {
        return Optional.of(key);
      }
    }
    return Optional.empty();
  }

  /**
   * @param module a module name
   * @param r the default rank
   * @return the module's rank
   */
  public int rank(String module, int r) {
    return patternKey(rankPattern.keySet(), module).map(rankPattern::get).orElse(r);
  }

  /**
   * @param module a module name
   * @param alpha the default alpha
   * @return the module's alpha
   */
  public double alpha(String module, double alpha) {
    return patternKey(alphaPattern.keySet(), module).map(alphaPattern::get).orElse(alpha);
  }

  /**
   * PEFT's LoRA scaling.
   *
   * @param r a rank
   * @param alpha an alpha
   * @param rsLora use_rslora
   * @return alpha / r, or alpha / sqrt(r) under rsLoRA
   */
  public static float scale(int r, double alpha, boolean rsLora) {
    return (float) (rsLora ? alpha / Math.sqrt(r) : alpha / r);
  }

  /**
   * A module's scale: {@code s} itself where the module's r and alpha are the defaults (so such a
   * module is scaled bit for bit as without patterns), else {@link #scale(int, double, boolean)}.
   *
   * @param module a module name
   * @param r the default rank
   * @param alpha the default alpha
   * @param rsLora use_rslora
   * @param s the default scale
   * @return the module's scale
   */
  public float scale(String module, int r, double alpha, boolean rsLora, float s) {
    int rm = rank(module, r);
    double am = alpha(module, alpha);
    return rm == r && am == alpha ? s : scale(rm, am, rsLora);
  }

  /**
   * Keys no module matches: PEFT ignores them silently, which hides a typo; callers refuse them.
   *
   * @param modules the adapted modules' names
   * @return "rank_pattern KEY" / "alpha_pattern KEY" for each key that matches none
   */
  public List<String> unmatched(Collection<String> modules) {
    List<String> out = new ArrayList<>();
    unmatched(RANK_PATTERN, rankPattern.keySet(), modules, out);
    unmatched(ALPHA_PATTERN, alphaPattern.keySet(), modules, out);
    return out;
  }

  private static void unmatched(
      String field, Collection<String> keys, Collection<String> modules, List<String> out) {
    for (String key : keys) {
      if (modules.stream().noneMatch(m -> patternKey(List.of(key), m).isPresent())) {
        out.add(field + " " + key);
      }
    }
  }

  /**
   * Refuses keys that match no module.
   *
   * @param modules the adapted modules' names
   * @param model the model, for the message
   * @throws IllegalArgumentException naming the keys and a few module names
   */
  public void requireMatches(List<String> modules, String model) {
    List<String> bad = unmatched(modules);
    if (!bad.isEmpty()) {
      throw new IllegalArgumentException(
          String.join(", ", bad)
              + " matches no adapted module of "
              + model
              + " (a key matches a module name that equals it or ends with '.' and it, as a"
              + " regex); its modules are "
              + String.join(", ", modules.subList(0, Math.min(4, modules.size())))
              + (modules.size() > 4 ? ", ... (" + modules.size() + " in all)" : ""));
    }
  }

  /**
   * A key that matches exactly one module name under PEFT's rule (its regex metacharacters escaped,
   * in syntax Python and Java share).
   *
   * @param module a module name
   * @return the key
   */
  public static String exact(String module) {
    StringBuilder b = new StringBuilder();
    for (char c : module.toCharArray()) {
      if (!Character.isLetterOrDigit(c) && c != '_') {
        b.append('\\');
      }
      b.append(c);
    }
    return "^" + b;
  }

  /**
   * @return the patterns as adapter metadata: JSON objects under PEFT's field names (none when
   *     empty, so adapters without patterns are written as before)
   */
  public Map<String, String> toMetadata() {
    Map<String, String> meta = new LinkedHashMap<>();
    if (!isEmpty()) {
      meta.put(RANK_PATTERN, toJson().get(RANK_PATTERN).toString());
      meta.put(ALPHA_PATTERN, toJson().get(ALPHA_PATTERN).toString());
    }
    return meta;
  }

  /**
   * @return {@code {"rank_pattern": {...}, "alpha_pattern": {...}}}, keys in order
   */
  public JsonObject toJson() {
    JsonObject ranks = new JsonObject();
    rankPattern.forEach(ranks::addProperty);
    JsonObject alphas = new JsonObject();
    alphaPattern.forEach(alphas::addProperty);
    JsonObject o = new JsonObject();
    o.add(RANK_PATTERN, ranks);
    o.add(ALPHA_PATTERN, alphas);
    return o;
  }

  /**
   * Reads the patterns from a JSON object holding PEFT's fields (adapter_config.json, or adapter
   * metadata); absent or null fields are empty.
   *
   * @param o the object
   * @param source what it came from, for messages
   * @return the patterns
   * @throws IOException if a field is not an object of numbers, or a key or value is invalid
   */
  public static LoraPatterns fromJson(JsonObject o, String source) throws IOException {
    Map<String, Integer> ranks = new LinkedHashMap<>();
    Map<String, Double> alphas = new LinkedHashMap<>();
    try {
      for (Map.Entry<String, JsonElement> e : object(o, RANK_PATTERN).entrySet()) {
        double r = e.getValue().getAsDouble();
        if (r != Math.rint(r)) {
          throw new IOException(source + ": " + RANK_PATTERN + " " + e.getKey() + " is " + r);
        }
        ranks.put(e.getKey(), (int) r);
      }
      for (Map.Entry<String, JsonElement> e : object(o, ALPHA_PATTERN).entrySet()) {
        alphas.put(e.getKey(), e.getValue().getAsDouble());
      }
      return new LoraPatterns(ranks, alphas);
    } catch (IllegalStateException
        | UnsupportedOperationException
        | ClassCastException
        | IllegalArgumentException e) {
      throw new IOException(
          source
              + ": "
              + RANK_PATTERN
              + " and "
              + ALPHA_PATTERN
              + " must map module patterns to numbers ("
              + e.getMessage()
              + ")",
          e);
    }
  }

  /**
   * Reads the patterns from adapter metadata ({@link #toMetadata()}); files written without them
   * have none.
   *
   * @param meta the metadata
   * @param source the file, for messages
   * @return the patterns
   * @throws IOException if a value is not a JSON object of numbers
   */
  public static LoraPatterns fromMetadata(Map<String, String> meta, String source)
      throws IOException {
    JsonObject o = new JsonObject();
    try {
      for (String k : List.of(RANK_PATTERN, ALPHA_PATTERN)) {
        if (meta.containsKey(k)) {
          o.add(k, JsonParser.parseString(meta.get(k)));
        }
      }
    } catch (JsonParseException e) {
      throw new IOException(source + ": metadata " + e.getMessage(), e);
    }
    return fromJson(o, source + " metadata");
  }

  private static JsonObject object(JsonObject o, String field) {
    return o.has(field) && !o.get(field).isJsonNull()
        ? o.get(field).getAsJsonObject()
        : new JsonObject();
  }

  private static void compile(String key, String field) {
    try {
      Pattern.compile(key);
    } catch (PatternSyntaxException e) {
      throw new IllegalArgumentException(
          field + " key " + key + " is not a regular expression: " + e.getDescription(), e);
    }
  }
}
