package dev.loraort.conformance;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Temporary directories that outlive one test (a model prepared once for the whole run), deleted
 * with everything in them when the test JVM exits: a run of the test suite leaves nothing in the
 * system's temporary folder. JUnit's {@code @TempDir} serves directories of one test.
 */
final class Scratch {
  private static final List<Path> DIRS = new ArrayList<>();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(Scratch::deleteAll, "scratch-cleanup"));
  }

  private Scratch() {}

  /**
   * @param prefix the directory name's start
   * @return a new empty directory
   * @throws IOException if it cannot be made
   */
  static synchronized Path dir(String prefix) throws IOException {
    Path dir = Files.createTempDirectory(prefix);
    DIRS.add(dir);
    return dir;
  }

  private static synchronized void deleteAll() {
    for (Path dir : DIRS) {
      try (Stream<Path> files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      } catch (IOException e) {
        // best effort while the JVM exits: nothing is left to report it to
      }
    }
  }
}
