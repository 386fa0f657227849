package dev.loraort.trainer.method;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * One setting a method takes on the command line: its flag, what it means, and how its text is read
 * and shown. A flag is declared once; methods that share it (--rho) share the constant. Which
 * methods take it, and with which default, is said by their registrations ({@link MethodSpec}).
 *
 * @param <T> the value's type
 */
public final class MethodSetting<T> {
  /** The perturbation radius (lora-sam, fmlora, eflat-lora, bi-lora). */
  public static final MethodSetting<Double> RHO =
      number("--rho", "perturbation radius, rho_0 under a rho schedule");

  /** How rho changes over the run (fmlora, eflat-lora). */
  public static final MethodSetting<MethodConfig.RhoSchedule> RHO_SCHEDULE =
      choice(
          "--rho-schedule", "constant, or cosine decay to 0.4 rho", MethodConfig.RhoSchedule.class);

  /** Whether a perturbation's norm is taken per layer or over all layers (SAM-like methods). */
  public static final MethodSetting<MethodConfig.NormScope> NORM_SCOPE =
      choice(
          "--norm-scope",
          "the perturbation's norm per-layer or global",
          MethodConfig.NormScope.class);

  private final String flag;
  private final String help;
  private final Function<String, T> parse;
  private final Function<T, String> show;

  private MethodSetting(
      String flag, String help, Function<String, T> parse, Function<T, String> show) {
    this.flag = flag;
    this.help = help;
    this.parse = parse;
    this.show = show;
  }

  /**
   * @param flag the option, e.g. {@code --sigma}
   * @param help what it means, without its default (the registrations give those)
   * @return a setting read as a double
   */
  public static MethodSetting<Double> number(String flag, String help) {
    return new MethodSetting<>(
        flag,
        help,
        text -> {
          try {
            return Double.valueOf(text);
          } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + " " + text + ": expected a number", e);
          }
        },
        String::valueOf);
  }

  /**
   * @param flag the option, e.g. {@code --aux-rank}
   * @param help what it means, without its default
   * @return a setting read as an int
   */
  public static MethodSetting<Integer> integer(String flag, String help) {
    return new MethodSetting<>(
        flag,
        help,
        text -> {
          try {
            return Integer.valueOf(text);
          } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + " " + text + ": expected an integer", e);
          }
        },
        String::valueOf);
  }

  /**
   * A setting that names one constant of an enum, written in lower case with '-' for '_' ({@code
   * PER_LAYER} is {@code per-layer}), case-insensitively.
   *
   * @param flag the option
   * @param help what it means, without its default
   * @param type the enum
   * @param <E> the enum
   * @return the setting
   */
  public static <E extends Enum<E>> MethodSetting<E> choice(
      String flag, String help, Class<E> type) {
    List<String> names = new ArrayList<>();
    for (E e : type.getEnumConstants()) {
      names.add(nameOf(e));
    }
    return new MethodSetting<>(
        flag,
        help,
        text -> {
          for (E e : type.getEnumConstants()) {
            if (nameOf(e).equalsIgnoreCase(text)) {
              return e;
            }
          }
          throw new IllegalArgumentException(flag + " " + text + ": expected " + oneOf(names));
        },
        MethodSetting::nameOf);
  }

  private static String nameOf(Enum<?> e) {
    return e.name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /** "a or b", "a, b or c". */
  private static String oneOf(List<String> names) {
    int last = names.size() - 1;
    return last == 0
        ? names.get(0)
        : String.join(", ", names.subList(0, last)) + " or " + names.get(last);
  }

  /**
   * @return the option, e.g. {@code --rho}
   */
  public String flag() {
    return flag;
  }

  /**
   * @return what it means, without defaults
   */
  public String help() {
    return help;
  }

  /**
   * @param text the option's value as given
   * @return the value
   * @throws IllegalArgumentException if the text is not a value of this setting; the message names
   *     the flag, the text and what was expected
   */
  public T parse(String text) {
    return parse.apply(text);
  }

  /**
   * @param value a value of this setting
   * @return it as written on the command line
   */
  public String show(T value) {
    return show.apply(value);
  }

  /**
   * @param value a method's default
   * @return this setting with that default, for a registration
   */
  public Default<T> defaultsTo(T value) {
    return new Default<>(this, value);
  }

  @Override
  public String toString() {
    return flag;
  }

  /**
   * A setting as one method takes it: with its default.
   *
   * @param setting the setting
   * @param value the default
   * @param <T> the value's type
   */
  public record Default<T>(MethodSetting<T> setting, T value) {
    /**
     * @return the default as written on the command line
     */
    public String shown() {
      return setting.show(value);
    }
  }
}
