package dev.loraort.trainer.method;

import java.util.List;

/** The --method values and the classes behind them. */
public final class Methods {
  /** Every method id, in the order the CLI lists them. */
  public static final List<String> IDS =
      List.of(
          "lora",
          "lora-sam",
          "fmlora",
          "eflat-lora",
          "flat-lora",
          "bi-lora",
          "lora-obar",
          "lora-nbar",
          "head-only");

  private Methods() {}

  /**
   * @param id a --method value
   * @return its default settings
   * @throws IllegalArgumentException for unknown ids, listing the known ones
   */
  public static MethodConfig defaults(String id) {
    switch (id) {
      case "lora":
        return new Lora.Cfg();
      case "lora-sam":
        return LoraSam.Cfg.defaults();
      case "fmlora":
        return FmLora.Cfg.defaults();
      case "eflat-lora":
        return EFlatLora.Cfg.defaults();
      case "flat-lora":
        return FlatLoraRwp.Cfg.defaults();
      case "bi-lora":
        return BiLora.Cfg.defaults();
      case "lora-obar":
        return Bar.Cfg.defaults(Bar.Variant.OBAR);
      case "lora-nbar":
        return Bar.Cfg.defaults(Bar.Variant.NBAR);
      case "head-only":
        return new HeadOnly.Cfg();
      default:
        throw new IllegalArgumentException(
            "--method " + id + " is unknown; expected one of " + IDS);
    }
  }

  /**
   * @param cfg a method's settings
   * @return the method
   */
  public static SharpnessMethod<?> create(MethodConfig cfg) {
    if (cfg instanceof Lora.Cfg) {
      return new Lora();
    } else if (cfg instanceof HeadOnly.Cfg) {
      return new HeadOnly();
    } else if (cfg instanceof LoraSam.Cfg c) {
      return new LoraSam(c);
    } else if (cfg instanceof FmLora.Cfg c) {
      return new FmLora(c);
    } else if (cfg instanceof EFlatLora.Cfg c) {
      return new EFlatLora(c);
    } else if (cfg instanceof FlatLoraRwp.Cfg c) {
      return new FlatLoraRwp(c);
    } else if (cfg instanceof BiLora.Cfg c) {
      return new BiLora(c);
    } else {
      return new Bar((Bar.Cfg) cfg);
    }
  }
}
