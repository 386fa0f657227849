package dev.loraort.trainer.data;

import dev.loraort.artifacts.Tensor;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Builds the next batch on a background thread while the caller trains on the current one, so
 * collating (and expanding images) overlaps the graph run instead of adding to the step. On CLIP
 * ViT-B/16 (32 images a batch) the host time outside copies, method and optimizer, where the batch
 * was built, was 12.9 ms of an 80 ms step on the H100; a batch of that size took 3 ms to build on a
 * 2-core machine (scripts/bench/BatchBuildProbe.java).
 *
 * <p>The batches, their order and {@link #position()} are exactly those of the source read
 * directly, so checkpoints and resumes do not change. Only this object touches the source while it
 * is open, and at most one batch is built ahead, never past the {@code count} the caller will draw.
 * {@link #close()} puts the source back where the caller's next batch comes from.
 */
public final class PrefetchedBatches implements BatchSource, AutoCloseable {
  private final BatchSource source;
  private final ExecutorService builder;
  private long left;
  private Future<Map<String, Tensor>> pending; // the caller's next batch, being built
  private long[] pendingFrom; // the source's position before it

  /**
   * Starts building the first batch.
   *
   * @param source the batches
   * @param count how many batches the caller will draw (none are built beyond)
   */
  public PrefetchedBatches(BatchSource source, long count) {
    this.source = source;
    this.left = count;
    this.builder =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "batch-prefetch");
              t.setDaemon(true); // never keeps the JVM alive
              return t;
            });
    buildAhead();
  }

  private void buildAhead() {
    if (left > 0) {
      pendingFrom = source.position();
      pending = builder.submit(source::next);
    }
  }

  /**
   * The next batch: the one built ahead (waiting for it if needed), then the following one is
   * started. An error while building it is thrown here, as the source threw it.
   */
  @Override
  public Map<String, Tensor> next() {
    Map<String, Tensor> batch = pending == null ? source.next() : await();
    pending = null;
    left--;
    buildAhead();
    return batch;
  }

  private Map<String, Tensor> await() {
    try {
      return pending.get();
    } catch (ExecutionException e) {
      pending = null;
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      if (e.getCause() instanceof Error err) {
        throw err;
      }
      throw new IllegalStateException("building a batch failed", e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for a batch", e);
    }
  }

  @Override
  public int batchesPerEpoch() {
    return source.batchesPerEpoch();
  }

  /** Where the caller's next batch comes from (not the source's position after the build ahead). */
  @Override
  public long[] position() {
    return pending == null ? source.position() : pendingFrom.clone();
  }

  @Override
  public void seek(long[] position) {
    settle();
    source.seek(position);
    buildAhead();
  }

  /**
   * Waits for a batch being built and rewinds the source to before it: the build ahead is dropped
   * (with any error from it: the caller never asked for that batch).
   */
  private void settle() {
    if (pending == null) {
      return;
    }
    boolean interrupted = false;
    while (!pending.isDone()) { // a batch build is short: wait it out, so the source is ours again
      try {
        pending.get();
      } catch (InterruptedException e) {
        interrupted = true;
      } catch (ExecutionException e) {
        break; // not the caller's batch yet: rebuilt (and the error thrown) when next() asks
      }
    }
    pending = null;
    source.seek(pendingFrom);
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /** Stops the builder and leaves the source where the caller's next batch comes from. */
  @Override
  public void close() {
    settle();
    builder.shutdown();
  }
}
