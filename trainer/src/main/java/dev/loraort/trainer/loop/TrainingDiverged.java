package dev.loraort.trainer.loop;

/** The loss or the gradients became non-finite; nothing of the run is written. */
public final class TrainingDiverged extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /**
   * @param message which step and which value
   */
  public TrainingDiverged(String message) {
    super(message);
  }
}
