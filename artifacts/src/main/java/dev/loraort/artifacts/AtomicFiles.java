package dev.loraort.artifacts;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Writes a file through a temporary sibling, synced and renamed over the target, so a crash
 * mid-write leaves the previous file intact.
 */
public final class AtomicFiles {
  /** What writes the bytes. */
  @FunctionalInterface
  public interface Writer {
    /**
     * @param out the temporary file's stream
     * @throws IOException on failure; the target is then left untouched
     */
    void write(OutputStream out) throws IOException;
  }

  /** What fills a directory. */
  @FunctionalInterface
  public interface DirectoryWriter {
    /**
     * @param dir an empty temporary directory beside the target
     * @throws IOException on failure; the target is then left untouched
     */
    void write(Path dir) throws IOException;
  }

  private AtomicFiles() {}

  /**
   * Fills a temporary sibling directory and swaps it in for {@code target}: an existing directory
   * is replaced only once the new one is complete.
   *
   * @param target the final directory
   * @param writer fills the temporary directory
   * @throws IOException if writing or renaming fails
   */
  public static void writeDirectory(Path target, DirectoryWriter writer) throws IOException {
    Path abs = target.toAbsolutePath();
    Files.createDirectories(abs.getParent());
    Path tmp = Files.createTempDirectory(abs.getParent(), "." + abs.getFileName() + ".");
    Path old = abs.resolveSibling("." + abs.getFileName() + ".old");
    try {
      try {
        writer.write(tmp);
      } catch (IOException e) {
        throw named(target, e);
      }
      readableByAll(tmp, "rwxr-xr-x");
      deleteTree(old);
      if (Files.exists(abs)) {
        Files.move(abs, old, StandardCopyOption.ATOMIC_MOVE);
      }
      Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE);
      deleteTree(old);
    } finally {
      deleteTree(tmp);
    }
  }

  private static void readableByAll(Path p, String perms) throws IOException {
    try {
      Files.setPosixFilePermissions(
          p, java.nio.file.attribute.PosixFilePermissions.fromString(perms));
    } catch (UnsupportedOperationException e) {
      // not a POSIX file system: its defaults apply
    }
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (var s = Files.walk(p)) {
      for (Path x : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(x);
      }
    }
  }

  /**
   * Removes the temporary files {@link #write} leaves when the process is killed mid-write ({@code
   * .NAME.RANDOM.tmp} in the target's directory).
   *
   * @param dir a directory written through this class
   * @throws IOException if listing or deleting fails
   */
  public static void removeStaleTemporaries(Path dir) throws IOException {
    try (var files = Files.list(dir)) {
      for (Path p : files.toList()) {
        String n = p.getFileName().toString();
        if (n.startsWith(".") && n.endsWith(".tmp") && Files.isRegularFile(p)) {
          Files.delete(p);
        }
      }
    }
  }

  /**
   * Writes {@code target} atomically.
   *
   * @param target the final path
   * @param writer writes the content
   * @throws IOException if writing or renaming fails (the temporary file is removed)
   */
  public static void write(Path target, Writer writer) throws IOException {
    Path dir = target.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
    try {
      writeAndMove(target, tmp, writer);
    } catch (IOException e) { // a full disk says "No space left on device" and names no file
      throw named(target, e);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  private static void writeAndMove(Path target, Path tmp, Writer writer) throws IOException {
    try (FileChannel ch =
            FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
        OutputStream out = Channels.newOutputStream(ch)) {
      writer.write(out);
      out.flush();
      ch.force(true);
    }
    readableByAll(tmp, "rw-r--r--"); // temp files start 0600; an adapter is for others to load
    try {
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /** The error with the file it was writing named, if its message does not name it already. */
  private static IOException named(Path target, IOException e) {
    String m = String.valueOf(e.getMessage());
    if (m.contains(target.getFileName().toString())) {
      return e;
    }
    return new IOException(target + ": writing failed (" + m + "); the previous file is intact", e);
  }
}
