package dev.loraort.builder;

/**
 * Why a training graph cannot be built from a model: the message names the file, the node or
 * tensor, and what was expected against what was found. The one exception type of this module.
 */
public final class BuildException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /**
   * @param message what went wrong, naming the file, node or tensor
   */
  public BuildException(String message) {
    super(message);
  }

  /**
   * @param message what went wrong, naming the file, node or tensor
   * @param cause the underlying failure
   */
  public BuildException(String message, Throwable cause) {
    super(message, cause);
  }
}
