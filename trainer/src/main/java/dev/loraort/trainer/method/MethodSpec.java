package dev.loraort.trainer.method;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * A method's registration, the one place that says what the rest of the trainer needs to know about
 * it: its {@code --method} id, a line on what it does (the README's method table), the settings it
 * takes with their defaults, how those become its config, and how the config becomes the method.
 * Each method class declares its own; {@link Methods#ALL} lists them. The CLI's options, their
 * validation and help, the defaults, the golden-trace test's list and the README table all follow
 * from these.
 *
 * @param <C> the method's config
 */
public final class MethodSpec<C extends MethodConfig> {
  private final String id;
  private final String summary;
  private final List<MethodSetting.Default<?>> settings;
  private final Function<Values, C> config;
  private final Function<C, SharpnessMethod<?>> create;
  private final boolean goldenTrace;
  private final C defaults;

  private MethodSpec(
      String id,
      String summary,
      List<MethodSetting.Default<?>> settings,
      Function<Values, C> config,
      Function<C, SharpnessMethod<?>> create,
      boolean goldenTrace) {
    this.id = id;
    this.summary = summary;
    this.settings = List.copyOf(settings);
    this.config = config;
    this.create = create;
    this.goldenTrace = goldenTrace;
    this.defaults = config.apply(new Values(id, this.settings, Map.of()));
  }

  /**
   * A method checked step by step against the PyTorch reference's golden traces
   * (conformance-tests/golden/MODEL/ID).
   *
   * @param id the {@code --method} value
   * @param summary what it does, in one line (markdown; '|' is escaped where needed)
   * @param settings the settings it takes, each with its default, in the order help lists them
   * @param config its config from the settings' values; reads only the settings listed
   * @param create the method from its config
   * @param <C> the config
   * @return the registration
   */
  public static <C extends MethodConfig> MethodSpec<C> of(
      String id,
      String summary,
      List<MethodSetting.Default<?>> settings,
      Function<Values, C> config,
      Function<C, SharpnessMethod<?>> create) {
    return new MethodSpec<>(id, summary, settings, config, create, true);
  }

  /**
   * @return this registration for a method that has no golden trace (the registration's comment
   *     says why, and what checks it instead)
   */
  public MethodSpec<C> withoutGoldenTrace() {
    return new MethodSpec<>(id, summary, settings, config, create, false);
  }

  /**
   * @return the {@code --method} value
   */
  public String id() {
    return id;
  }

  /**
   * @return what it does, in one line
   */
  public String summary() {
    return summary;
  }

  /**
   * @return the settings it takes with their defaults, in help order
   */
  public List<MethodSetting.Default<?>> settings() {
    return settings;
  }

  /**
   * @return whether conformance-tests/golden holds its reference traces
   */
  public boolean goldenTrace() {
    return goldenTrace;
  }

  /**
   * @return its config with every setting at its default
   */
  public C defaults() {
    return defaults;
  }

  /**
   * Its config from settings given as text; those not given keep their defaults.
   *
   * @param given option values by flag, in the order an error should name them
   * @return the config
   * @throws IllegalArgumentException if a given setting is not one this method takes (all such are
   *     named in one message), a value does not parse, or the config rejects it
   */
  public C config(Map<String, String> given) {
    Map<MethodSetting<?>, Object> values = new LinkedHashMap<>();
    List<String> unused = new ArrayList<>();
    given.forEach(
        (flag, text) -> {
          MethodSetting<?> s = setting(flag);
          if (s == null) {
            unused.add(flag);
          } else {
            values.put(s, s.parse(text));
          }
        });
    if (!unused.isEmpty()) {
      throw new IllegalArgumentException(
          String.join(", ", unused)
              + (unused.size() == 1 ? " does" : " do")
              + " not apply to --method "
              + id);
    }
    return config.apply(new Values(id, settings, values));
  }

  private MethodSetting<?> setting(String flag) {
    for (MethodSetting.Default<?> d : settings) {
      if (d.setting().flag().equals(flag)) {
        return d.setting();
      }
    }
    return null;
  }

  /**
   * @param cfg a config of this method
   * @return the method
   * @throws IllegalArgumentException if the config is another method's
   */
  public SharpnessMethod<?> create(MethodConfig cfg) {
    if (!defaults.getClass().isInstance(cfg) || !cfg.id().equals(id)) {
      throw new IllegalArgumentException(id + " cannot be made from the config of " + cfg.id());
    }
    @SuppressWarnings("unchecked") // the same class as this method's defaults
    C c = (C) cfg;
    return create.apply(c);
  }

  /** The settings' values as a registration's config function reads them. */
  public static final class Values {
    private final String id;
    private final List<MethodSetting.Default<?>> settings;
    private final Map<MethodSetting<?>, Object> given;

    private Values(
        String id, List<MethodSetting.Default<?>> settings, Map<MethodSetting<?>, Object> given) {
      this.id = id;
      this.settings = settings;
      this.given = given;
    }

    /**
     * @param setting one of the registration's settings
     * @param <T> its type
     * @return the value given, else the registration's default
     * @throws IllegalStateException if the registration does not list the setting
     */
    public <T> T get(MethodSetting<T> setting) {
      for (MethodSetting.Default<?> d : settings) {
        if (d.setting() == setting) {
          @SuppressWarnings("unchecked") // a Default<T> holds a T
          T v = (T) given.getOrDefault(setting, d.value());
          return v;
        }
      }
      throw new IllegalStateException(id + " reads " + setting + " but does not list it");
    }
  }
}
