package dev.loraort.trainer.graph;

/** A graph could not be loaded, checked or run; the message names the graph file. */
public class GraphException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /**
   * @param message what failed, naming the file and the tensor
   */
  public GraphException(String message) {
    super(message);
  }

  /**
   * @param message what failed, naming the file and the tensor
   * @param cause the underlying error
   */
  public GraphException(String message, Throwable cause) {
    super(message, cause);
  }
}
