package dev.loraort.trainer.graph;

import ai.onnxruntime.TensorInfo;
import dev.loraort.artifacts.Tensor;
import dev.loraort.artifacts.manifest.Manifest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * One session of the same train graph per device, run as one: each run splits the batch along its
 * first axis into shards as equal as possible, runs shard i on session i (each on its own thread),
 * and combines the shards' outputs on the host into the whole batch's: every output (the loss and
 * each gradient) is the mean over shards weighted by the terms each shard's loss averages ({@link
 * LossWeight}), summed in double. Inputs outside the batch (parameters, lora_scale, rwp_sigma,
 * loss_scale) go to every session unchanged. A batch with fewer examples than devices (an epoch's
 * last) runs on as many devices as it has examples. Owns its sessions and threads; close it once.
 *
 * <p>Flat-LoRA's train_rwp draws its noise in the graph from fixed seeds, so the n-th run of every
 * session draws the same noise: the shards see one perturbation, as one session's batch does.
 */
public final class DataParallelGraph implements TrainGraph {
  private final List<GraphSession> sessions;
  private final List<String> devices;
  private final Set<String> batchInputs;
  private final LossWeight weight;
  private final ExecutorService threads;
  private long copyNanos;
  private boolean closed;

  private DataParallelGraph(
      List<GraphSession> sessions,
      List<String> devices,
      Set<String> batchInputs,
      LossWeight weight) {
    this.sessions = List.copyOf(sessions);
    this.devices = List.copyOf(devices);
    this.batchInputs = Set.copyOf(batchInputs);
    this.weight = weight;
    AtomicInteger n = new AtomicInteger();
    this.threads =
        Executors.newFixedThreadPool(
            sessions.size(),
            r -> {
              Thread t = new Thread(r, "lora-ort-shard-" + n.getAndIncrement());
              t.setDaemon(true); // a failed run must not keep the JVM alive
              return t;
            });
  }

  /**
   * Checks that the model's loss and inputs split along the batch, then opens a session on each
   * device.
   *
   * @param m the manifest
   * @param devices where the sessions run, in order
   * @param open opens and checks one session of the graph on a device
   * @return the graph, owning the sessions
   * @throws GraphException if the task's loss does not split into shards ({@link LossWeight#of}), a
   *     batch input's first axis is not the batch, or a session fails to open (those already open
   *     are closed)
   */
  static DataParallelGraph open(
      Manifest m, List<ExecutionDevice> devices, Function<ExecutionDevice, GraphSession> open) {
    LossWeight w = LossWeight.of(m);
    Set<String> batch = batchInputs(m);
    List<GraphSession> sessions = new ArrayList<>();
    try {
      for (ExecutionDevice d : devices) {
        sessions.add(open.apply(d));
      }
    } catch (RuntimeException e) {
      sessions.forEach(GraphSession::close);
      throw e;
    }
    return new DataParallelGraph(
        sessions, devices.stream().map(ExecutionDevice::toString).toList(), batch, w);
  }

  /** The manifest's batch inputs; each must have the same symbolic first dim, the batch. */
  private static Set<String> batchInputs(Manifest m) {
    String batch = null;
    for (Manifest.IoSpec in : m.inputs()) {
      String first = in.shape().isEmpty() ? null : in.shape().get(0).symbol();
      batch = batch == null ? first : batch;
      if (first == null || !first.equals(batch)) {
        throw new GraphException(
            m.dir().resolve(Manifest.FILE)
                + ": input "
                + in.name()
                + " has shape "
                + in.shape()
                + ", but splitting a batch between devices needs every input's first dim to be the"
                + " batch ("
                + batch
                + "); train this model on one device (--device)");
      }
    }
    Set<String> names = new LinkedHashSet<>();
    m.inputs().forEach(in -> names.add(in.name()));
    return names;
  }

  @Override
  public Path path() {
    return sessions.get(0).path();
  }

  @Override
  public Map<String, TensorInfo> io(boolean outputs) {
    checkClosed();
    return sessions.get(0).io(outputs);
  }

  /**
   * Runs the shards in parallel and combines their outputs.
   *
   * @param feeds every graph input by name; the batch inputs share their first dim
   * @param outputs the outputs to fetch: float32 means over the batch (the loss, gradients)
   * @return the whole batch's outputs by name, in the order requested
   * @throws GraphException if a session fails (naming its device and the file), the batch inputs
   *     disagree on the batch size, or an output is not float32
   */
  @Override
  public Map<String, Tensor> run(Map<String, Tensor> feeds, List<String> outputs) {
    checkClosed();
    long s0 = System.nanoTime();
    List<Map<String, Tensor>> shards = split(feeds);
    long[] weights = new long[shards.size()];
    List<Future<Shard>> running = new ArrayList<>();
    for (int i = 0; i < shards.size(); i++) {
      weights[i] = weight.count(shards.get(i));
      GraphSession s = sessions.get(i);
      Map<String, Tensor> f = shards.get(i);
      running.add(
          threads.submit(
              () -> {
                long c0 = s.copyNanos();
                Map<String, Tensor> out = s.run(f, outputs);
                return new Shard(out, s.copyNanos() - c0);
              }));
    }
    long ownNanos = System.nanoTime() - s0;
    List<Shard> done = awaitAll(running);
    long r0 = System.nanoTime();
    Map<String, Tensor> combined = combine(done, weights, outputs);
    // the shards copy at the same time: the slowest one's copying is what the run waited for
    long slowestCopy = done.stream().mapToLong(Shard::copyNanos).max().orElse(0);
    copyNanos += ownNanos + slowestCopy + System.nanoTime() - r0;
    return combined;
  }

  /** One shard's outputs, and its session's copying time during the run. */
  private record Shard(Map<String, Tensor> outputs, long copyNanos) {}

  /**
   * Every shard's outputs; a failure is thrown only after every shard has finished, so that no
   * session is still running when the caller closes them.
   */
  private List<Shard> awaitAll(List<Future<Shard>> running) {
    List<Shard> done = new ArrayList<>();
    GraphException failed = null;
    boolean interrupted = false;
    for (int i = 0; i < running.size(); i++) {
      try {
        done.add(running.get(i).get());
      } catch (ExecutionException e) {
        Throwable c = e.getCause();
        GraphException g = new GraphException(devices.get(i) + ": " + c.getMessage(), c);
        if (failed == null) {
          failed = g;
        } else {
          failed.addSuppressed(g);
        }
      } catch (InterruptedException e) {
        interrupted = true;
        i--; // wait for this shard again: its session is still running
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    if (failed != null) {
      throw failed;
    }
    return done;
  }

  /** The feeds of each shard: consecutive rows of every batch input, everything else shared. */
  private List<Map<String, Tensor>> split(Map<String, Tensor> feeds) {
    long rows = -1;
    String first = null;
    for (String name : batchInputs) {
      Tensor t = feeds.get(name);
      if (t == null) {
        continue; // ONNX Runtime names a missing input when the session runs
      }
      if (rows < 0) {
        rows = t.shape()[0];
        first = name;
      } else if (t.shape()[0] != rows) {
        throw new GraphException(
            path()
                + ": batch input "
                + name
                + " has "
                + t.shape()[0]
                + " rows but "
                + first
                + " has "
                + rows);
      }
    }
    if (rows < 1) {
      throw new GraphException(
          path() + ": the feeds hold no rows of the batch inputs " + batchInputs);
    }
    int n = (int) Math.min(sessions.size(), rows);
    List<Map<String, Tensor>> shards = new ArrayList<>();
    long from = 0;
    for (int i = 0; i < n; i++) {
      long to = from + rows / n + (i < rows % n ? 1 : 0);
      Map<String, Tensor> f = new LinkedHashMap<>();
      for (Map.Entry<String, Tensor> e : feeds.entrySet()) {
        f.put(
            e.getKey(),
            batchInputs.contains(e.getKey()) ? rows(e.getValue(), from, to) : e.getValue());
      }
      shards.add(f);
      from = to;
    }
    return shards;
  }

  /** Rows [from, to) of {@code t} along its first axis, copied. */
  static Tensor rows(Tensor t, long from, long to) {
    long[] shape = t.shape().clone();
    int perRow = Math.toIntExact(Tensor.numel(shape) / shape[0]);
    shape[0] = to - from;
    int a = Math.toIntExact(from * perRow);
    int b = Math.toIntExact(to * perRow);
    return switch (t.dtype()) {
      case F32 -> Tensor.ofFloats(shape, Arrays.copyOfRange(t.floats(), a, b));
      case I64 -> Tensor.ofLongs(shape, Arrays.copyOfRange(t.longs(), a, b));
      default -> Tensor.ofInts(shape, Arrays.copyOfRange(t.ints(), a, b));
    };
  }

  /**
   * Each output as the weighted mean of the shards' (in double); when no shard has a term, every
   * shard's output is what the whole batch gives (its loss has no term either), so shard 0's.
   */
  private Map<String, Tensor> combine(List<Shard> shards, long[] weights, List<String> outputs) {
    long total = 0;
    for (long w : weights) {
      total += w;
    }
    if (total == 0) {
      return shards.get(0).outputs();
    }
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (String name : outputs) {
      Tensor like = shards.get(0).outputs().get(name);
      if (like.dtype() != Tensor.DType.F32) {
        throw new GraphException(
            path() + ": output " + name + " is " + like.dtype() + "; only float32 means combine");
      }
      double[] sum = new double[like.size()];
      for (int i = 0; i < shards.size(); i++) {
        if (weights[i] == 0) {
          continue; // no terms: its loss is 0 or NaN (0 / 0), never part of the mean
        }
        float[] x = shards.get(i).outputs().get(name).floats();
        for (int k = 0; k < sum.length; k++) {
          sum[k] += (double) weights[i] * x[k];
        }
      }
      float[] mean = new float[sum.length];
      for (int k = 0; k < mean.length; k++) {
        mean[k] = (float) (sum[k] / total);
      }
      out.put(name, Tensor.ofFloats(like.shape(), mean));
    }
    return out;
  }

  @Override
  public long copyNanos() {
    return copyNanos;
  }

  private void checkClosed() {
    if (closed) {
      throw new IllegalStateException("data-parallel sessions for " + path() + " are closed");
    }
  }

  /** Stops the threads and closes every session; idempotent. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    threads.shutdownNow();
    RuntimeException first = null;
    for (GraphSession s : sessions) {
      try {
        s.close();
      } catch (RuntimeException e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }
}
