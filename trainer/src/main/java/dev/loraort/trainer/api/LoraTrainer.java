package dev.loraort.trainer.api;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.loraort.artifacts.AdapterFormat;
import dev.loraort.artifacts.AdapterWeights;
import dev.loraort.artifacts.Adapters;
import dev.loraort.artifacts.manifest.Manifest;
import dev.loraort.trainer.config.RunSettings;
import dev.loraort.trainer.data.Examples;
import dev.loraort.trainer.graph.GraphException;
import dev.loraort.trainer.loop.StepLoop;
import dev.loraort.trainer.loop.TrainingDiverged;
import dev.loraort.trainer.loop.TrainingJob;
import dev.loraort.trainer.method.Methods;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The trainer as a library: train an adapter, export it, load it back. Each call does what the
 * matching {@code lora-trainer} command does, through the same code (the CLI's {@code export} calls
 * {@link #export}; {@code train} and {@link #train} both run {@link TrainingJob}).
 *
 * <pre>{@code
 * TrainResult run = LoraTrainer.train(TrainOptions.builder(Path.of("runs/tiny")).steps(50).build());
 * LoraTrainer.export(run.adapter(), run.modelDir(), AdapterFormat.PEFT, Path.of("runs/tiny/peft"));
 * AdapterWeights adapter = LoraTrainer.loadAdapter(Path.of("runs/tiny/peft"), run.modelDir());
 * }</pre>
 *
 * <p>The class holds no state: each call opens the ONNX Runtime sessions and native buffers it
 * needs and closes them before it returns.
 */
public final class LoraTrainer {
  private LoraTrainer() {}

  /**
   * Trains an adapter and writes the run directory: {@code adapter.onnx} (the trained LoRA matrices
   * and heads under the graph contract's names, with metadata), {@code run.json}, a final
   * checkpoint, curves and TensorBoard events. The adapter and run.json are written atomically at
   * the end: a run that fails leaves an existing run directory's results as they were.
   *
   * @param options what to train, on what and where
   * @return the losses, the step count and where the adapter is
   * @throws IOException if the model, data or initial adapter cannot be read or do not fit each
   *     other (the message names the file), or the run directory holds a run and {@link
   *     TrainOptions.Builder#overwrite} is off
   * @throws GraphException if ONNX Runtime cannot load or run a graph (the message names it), or
   *     the CUDA execution provider is asked for and cannot start
   * @throws TrainingDiverged if the loss or the parameters stop being finite; the message names the
   *     step and what the run directory kept
   */
  public static TrainResult train(TrainOptions options) throws IOException {
    Path modelDir = options.model != null ? options.model : BundledModel.extract();
    String label = options.model != null ? modelDir.toString() : BundledModel.LABEL;
    Path data = BundledModel.dataFile(modelDir, options.data);
    StepLoop.Result r =
        TrainingJob.run(
            new TrainingJob.Inputs(
                modelDir,
                label,
                data,
                options.init,
                textOptions(options, modelDir, data),
                null,
                0,
                0,
                options.padToMultipleOf),
            options.config,
            new RunSettings(
                List.of(options.device),
                options.threads,
                options.runDir,
                options.trace,
                false,
                0, // one checkpoint, at the end
                false,
                options.overwrite,
                0,
                0,
                null,
                0),
            Methods.create(options.config.method()),
            options.log);
    return new TrainResult(
        options.runDir,
        options.runDir.resolve(TrainingJob.ADAPTER),
        modelDir,
        r.firstLoss(),
        r.lastLoss(),
        r.steps(),
        r.seconds());
  }

  /** How to read text data with the model's own tokenizer; null for pre-tokenized JSONL. */
  private static Examples.TextOptions textOptions(TrainOptions o, Path modelDir, Path data)
      throws IOException {
    return Examples.TextOptions.forData(
        data, modelDir, Manifest.read(modelDir), null, o.maxLength, o.textFields, null);
  }

  /**
   * Writes an adapter in another format ({@code lora-trainer export}). The output is written
   * atomically.
   *
   * @param adapter an adapter in any format {@link #loadAdapter} reads, e.g. {@link
   *     TrainResult#adapter()}
   * @param modelDir the model directory it was trained on (PEFT needs its module names, merged its
   *     infer graph and base weights)
   * @param format {@link AdapterFormat#ORT_ADAPTER} (ONNX Runtime's .onnx_adapter), {@link
   *     AdapterFormat#PEFT} (a directory), {@link AdapterFormat#MERGED} (infer.onnx with the
   *     adapter folded into the base weights), {@link AdapterFormat#ONNX} or {@link
   *     AdapterFormat#SAFETENSORS}
   * @param out the file to write, or the directory for PEFT; to read it back with {@link
   *     #loadAdapter}, end an .onnx_adapter's name so and a safetensors file's in .safetensors
   * @return the adapter as written
   * @throws IOException if the adapter or model cannot be read, the adapter does not fit the model,
   *     the output cannot be written, or merging gives values that are not finite (the message
   *     names the file or module)
   */
  public static AdapterWeights export(Path adapter, Path modelDir, AdapterFormat format, Path out)
      throws IOException {
    Manifest m = Manifest.read(modelDir);
    AdapterWeights a = Adapters.read(adapter, m);
    Adapters.write(out, format, a, m);
    return a;
  }

  /**
   * Reads an adapter back, in the format its name tells: a directory is a PEFT adapter, a name
   * ending in {@code .onnx_adapter} ONNX Runtime's format, in {@code .safetensors} safetensors, and
   * any other file an ONNX initializers file ({@code adapter.onnx}).
   *
   * @param adapter the file, or the PEFT directory
   * @param modelDir the model directory it belongs to (PEFT names are mapped through its manifest)
   * @return the tensors under the graph contract's names, with rank, alpha, scale and metadata
   * @throws IOException if it is none of these formats, is malformed, has a matrix whose rank
   *     disagrees with the adapter's, or holds a value that is not finite (the message names the
   *     file and the tensor)
   */
  public static AdapterWeights loadAdapter(Path adapter, Path modelDir) throws IOException {
    return Adapters.read(adapter, Manifest.read(modelDir));
  }

  /**
   * The model directory a finished run was trained on, from its run.json; for the bundled model, a
   * fresh copy of it.
   *
   * @param runDir a run directory
   * @return the model directory
   * @throws IOException if runDir has no readable run.json, or it names no model directory
   */
  public static Path modelOf(Path runDir) throws IOException {
    Path runJson = runDir.resolve(TrainingJob.RUN_JSON);
    JsonObject provenance =
        JsonParser.parseString(Files.readString(runJson, StandardCharsets.UTF_8))
            .getAsJsonObject()
            .getAsJsonObject("provenance");
    if (provenance == null || !provenance.has("modelDir")) {
      throw new IOException(runJson + ": no provenance.modelDir; pass the model directory");
    }
    String label = provenance.get("modelDir").getAsString();
    return label.equals(BundledModel.LABEL) ? BundledModel.extract() : Path.of(label);
  }
}
