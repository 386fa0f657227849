package dev.loraort.trainer.loop;

/**
 * Training stopped: a loss or gradient norm that is not finite, parameters that became so, or a
 * loss spike beyond the configured bound. The message says which step and value, and what the run
 * left on disk.
 */
public final class TrainingDiverged extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final long lastCheckpoint;

  /**
   * @param message which step and which value
   * @param lastCheckpoint the step of the last checkpoint written (or resumed from), -1 if none
   */
  public TrainingDiverged(String message, long lastCheckpoint) {
    super(message);
    this.lastCheckpoint = lastCheckpoint;
  }

  /**
   * @return the step of the last good checkpoint, -1 if none was written
   */
  public long lastCheckpoint() {
    return lastCheckpoint;
  }
}
