package dev.loraort.trainer.method;

import java.util.List;

/** The --method values and the classes behind them. */
public final class Methods {
  /** Every method id, in the order the CLI lists them. */
  public static final List<String> IDS = List.of("lora");

  private Methods() {}

  /**
   * @param id a --method value
   * @return a fresh method
   * @throws IllegalArgumentException for unknown ids, listing the known ones
   */
  public static SharpnessMethod<?> create(String id) {
    switch (id) {
      case "lora":
        return new Lora();
      default:
        throw new IllegalArgumentException("--method " + id + " is unknown; expected one of " + IDS);
    }
  }
}
