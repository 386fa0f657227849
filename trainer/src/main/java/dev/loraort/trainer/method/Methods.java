package dev.loraort.trainer.method;

import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The registry: every method's registration, in the order the CLI and the README list them. Adding
 * a method is its class (with its {@code SPEC}) and one line here.
 */
public final class Methods {
  /** Every registration, in --method order. */
  public static final List<MethodSpec<?>> ALL =
      List.of(
          Lora.SPEC,
          LoraSam.SPEC,
          FmLora.SPEC,
          EFlatLora.SPEC,
          FlatLoraRwp.SPEC,
          BiLora.SPEC,
          Bar.OBAR,
          Bar.NBAR,
          HeadOnly.SPEC);

  /** Every method id, in --method order. */
  public static final List<String> IDS = ALL.stream().map(MethodSpec::id).toList();

  /** Every setting any method takes, once each, in the order they first appear in {@link #ALL}. */
  public static final List<MethodSetting<?>> SETTINGS = settingsOf(ALL);

  private Methods() {}

  /**
   * @param id a --method value
   * @return its registration
   * @throws IllegalArgumentException for unknown ids, listing the known ones
   */
  public static MethodSpec<?> byId(String id) {
    for (MethodSpec<?> m : ALL) {
      if (m.id().equals(id)) {
        return m;
      }
    }
    throw new IllegalArgumentException("--method " + id + " is unknown; expected one of " + IDS);
  }

  /**
   * @param cfg a method's settings
   * @return the method
   */
  public static SharpnessMethod<?> create(MethodConfig cfg) {
    return byId(cfg.id()).create(cfg);
  }

  /**
   * @param specs registrations
   * @return their settings, once each, in order of first appearance
   * @throws IllegalStateException if two registrations share an id, or declare one flag twice
   */
  static List<MethodSetting<?>> settingsOf(List<MethodSpec<?>> specs) {
    Set<String> ids = new HashSet<>();
    Map<String, MethodSetting<?>> byFlag = new LinkedHashMap<>();
    for (MethodSpec<?> m : specs) {
      if (!ids.add(m.id())) {
        throw new IllegalStateException("method " + m.id() + " is registered twice");
      }
      for (MethodSetting.Default<?> d : m.settings()) {
        MethodSetting<?> s = byFlag.putIfAbsent(d.setting().flag(), d.setting());
        if (s != null && s != d.setting()) { // one flag, one meaning: share the constant
          throw new IllegalStateException(
              m.id() + " declares " + s.flag() + " again; use the existing setting");
        }
      }
    }
    return List.copyOf(byFlag.values());
  }
}
