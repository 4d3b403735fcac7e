package ipt.model;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.util.Pair;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A lineage's network (the ipt GPT, or a TorchScript module it started from) with its tokenizer and AdamW state:
 * one training step at a time, loss evaluation, and its checkpoint bytes.
 */
public final class LanguageModel implements AutoCloseable {

  /** The GPT of {@link Gpt}, built from a {@link GptConfig}. */
  public static final String IPT_GPT = "ipt-gpt";
  /** A TorchScript module started from (see {@link #fromTorchScript}). */
  public static final String TORCHSCRIPT = "torchscript";
  static final String PARAMS_FILE = "params.bin";
  static final String TORCHSCRIPT_FILE = "model.pt";
  static final String TOKENIZER_FILE = "tokenizer.json";
  /** Token and position embeddings: the GPT's wte and wpe, or a TorchScript module's *emb*.weight. */
  private static final Pattern EMBEDDING = Pattern.compile("wte|wpe|(?:.*\\.)?(?:wte|wpe|\\w*emb\\w*)\\.weight");
  /** A parameter of block i: DJL's "NNh<i>_..." in the GPT, "h.<i>.", "blocks.<i>." or "layers.<i>." in a TorchScript module. */
  private static final Pattern NUMBERED_BLOCK = Pattern.compile("(?:\\d*h(\\d+)_|(?:.*\\.)?(?:h|blocks|layers|layer)\\.(\\d+)\\.).*");
  static final String OPTIMIZER_FILE = "optimizer.bin";
  private static final int EVAL_BATCH = 16;
  /**
   * Training steps in one JVM take turns: DJL's PyTorch engine allows one active GradientCollector per JVM.
   * Forward-only evaluation needs only its model's own lock, so a candidate is scored while a trainer trains.
   */
  private static final Object ENGINE = new Object();

  private final GptConfig config;
  private final TrainConfig train;
  private final Model model;
  private final String architecture;
  private final Block net; // Gpt, or the TorchScript module
  private final Tokenizer tokenizer;
  private final byte[] tokenizerJson; // null for bytes
  private final AdamW optimizer;
  private final Staging inputBuffer = new Staging();
  private final Staging targetBuffer = new Staging();
  private final Trainer trainer;
  private long step;

  private LanguageModel(GptConfig config, TrainConfig train, String architecture, byte[] weights, byte[] optimizerState, long step,
      byte[] tokenizerJson) throws IOException, MalformedModelException {
    this.config = config;
    this.train = train;
    this.architecture = architecture;
    this.step = step;
    this.tokenizerJson = tokenizerJson;
    synchronized (ENGINE) {
      model = Model.newInstance("ipt-" + architecture, Device.cpu(), "PyTorch");
      Tokenizer loadedTokenizer = null;
      try {
        loadedTokenizer = tokenizerJson == null ? Tokenizer.BYTES : HuggingFaceJson.of(tokenizerJson);
        if (architecture.equals(TORCHSCRIPT)) {
          net = torchScript((PtNDManager) model.getNDManager(), weights);
        } else if (architecture.equals(IPT_GPT)) {
          Gpt gpt = new Gpt(config);
          gpt.seedInitializers(train.seed());
          if (weights != null) {
            // Loaded parameters count as initialised: trainer.initialize keeps them and only marks them trainable.
            gpt.loadParameters(model.getNDManager(), new DataInputStream(new ByteArrayInputStream(weights)));
          }
          net = gpt;
        } else {
          throw new MalformedModelException("unknown architecture " + architecture + " (expected " + IPT_GPT + " or " + TORCHSCRIPT + ")");
        }
        model.setBlock(net);
        Map<String, String> pathById = new HashMap<>();
        for (Pair<String, Parameter> named : net.getParameters()) {
          pathById.put(named.getValue().getId(), named.getKey());
        }
        optimizer = new AdamW(train, pathById);
        // DJL requires a Loss here; steps compute Gpt.tokenLosses themselves (masked in loss()).
        trainer = model.newTrainer(new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
            .optDevices(new Device[] {Device.cpu()})
            .optOptimizer(optimizer));
        trainer.initialize(new Shape(1, config.contextLength()));
        if (optimizerState != null) {
          optimizer.load(new DataInputStream(new ByteArrayInputStream(optimizerState)), model.getNDManager());
        }
        tokenizer = loadedTokenizer;
      } catch (Exception e) {
        if (loadedTokenizer != null) loadedTokenizer.close();
        model.close();
        throw e;
      }
    }
  }

  /** A TorchScript archive's module with every parameter trainable (DJL's trainParam); libtorch reads it from a file. */
  private static PtSymbolBlock torchScript(PtNDManager manager, byte[] archive) throws IOException {
    Path file = Files.createTempFile("ipt-torchscript-", ".pt");
    try {
      Files.write(file, archive);
      return JniUtils.loadModule(manager, file, true, new String[0], new String[0], true);
    } finally {
      Files.delete(file);
    }
  }

  /** Fresh weights, deterministic from {@code train.seed()}. */
  public static LanguageModel create(GptConfig config, TrainConfig train) {
    try {
      return new LanguageModel(config, train, IPT_GPT, null, null, 0, null);
    } catch (IOException | MalformedModelException e) {
      throw new IllegalStateException("nothing is read when creating a model", e);
    }
  }

  /**
   * An existing model to continue: a TorchScript module mapping (B, T) int64 ids to (B, T, V) logits, trained
   * as is, and the HuggingFace tokenizer.json it reads text with. The vocabulary is the tokenizer's; context
   * length, width and depth are {@code declared}'s and are checked against the module: a forward pass over the
   * full context must give the tokenizer's vocabulary, a (V, dModel) embedding must exist, and the module must
   * number nLayers blocks. The head count is taken as declared (it only enters FLOP estimates).
   */
  public static LanguageModel fromTorchScript(Path module, Path tokenizerJson, GptConfig declared, TrainConfig train) throws IOException {
    byte[] tokenizer = Files.readAllBytes(tokenizerJson);
    int vocabSize;
    try (Tokenizer t = HuggingFaceJson.of(tokenizer)) {
      vocabSize = t.vocabSize();
    }
    GptConfig config = new GptConfig(vocabSize, declared.contextLength(), declared.dModel(), declared.nLayers(), declared.nHeads());
    LanguageModel loaded;
    try {
      loaded = new LanguageModel(config, train, TORCHSCRIPT, Files.readAllBytes(module), null, 0, tokenizer);
    } catch (MalformedModelException e) {
      throw new IOException(module + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      throw new IOException(module + " is not a TorchScript archive libtorch can load: " + e.getMessage(), e);
    }
    try {
      loaded.checkShape(module);
      return loaded;
    } catch (IOException | RuntimeException e) {
      loaded.close();
      throw e;
    }
  }

  private void checkShape(Path module) throws IOException {
    Set<Integer> blocks = new TreeSet<>();
    boolean embedding = false;
    for (Pair<String, Parameter> named : net.getParameters()) {
      Shape shape = named.getValue().getArray().getShape();
      embedding |= shape.equals(new Shape(config.vocabSize(), config.dModel()));
      int block = blockIndex(named.getKey());
      if (block >= 0) blocks.add(block);
    }
    if (!embedding) throw new IOException(module + " has no (" + config.vocabSize() + ", " + config.dModel() + ") embedding: vocabulary or width differ");
    if (blocks.size() != config.nLayers()) throw new IOException(module + " has " + blocks.size() + " numbered blocks, " + config + " declares " + config.nLayers());
    Shape logits;
    synchronized (ENGINE) {
      try (NDManager manager = model.getNDManager().newSubManager()) {
        logits = net.forward(new ParameterStore(manager, false), new NDList(manager.create(new long[config.contextLength()], new Shape(1, config.contextLength()))), false)
            .singletonOrThrow().getShape();
      } catch (RuntimeException e) {
        throw new IOException(module + " cannot run on (1, " + config.contextLength() + ") ids: " + e.getMessage().lines().findFirst().orElse(""), e);
      }
    }
    Shape expected = new Shape(1, config.contextLength(), config.vocabSize());
    if (!logits.equals(expected)) throw new IOException(module + " maps (1, " + config.contextLength() + ") ids to " + logits + ", expected " + expected);
  }

  /** Parameters, optimizer state and step count of a verified checkpoint. */
  public static LanguageModel load(Checkpoint checkpoint, TrainConfig train) {
    try {
      Checkpoint.Manifest manifest = checkpoint.manifest();
      byte[] tokenizer = manifest.files().containsKey(TOKENIZER_FILE) ? checkpoint.file(TOKENIZER_FILE) : null;
      return new LanguageModel(manifest.model(), train, manifest.architecture(), checkpoint.file(weightsFile(manifest.architecture())),
          checkpoint.file(OPTIMIZER_FILE), manifest.step(), tokenizer);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (MalformedModelException e) {
      throw new UncheckedIOException(new IOException(checkpoint.dir() + ": " + e.getMessage(), e));
    }
  }

  /** The file a checkpoint keeps an architecture's weights in: the TorchScript archive itself, or DJL's parameter file. */
  static String weightsFile(String architecture) {
    return TORCHSCRIPT.equals(architecture) ? TORCHSCRIPT_FILE : PARAMS_FILE;
  }

  /** {@link #IPT_GPT} or {@link #TORCHSCRIPT}. */
  public String architecture() {
    return architecture;
  }

  /** How this model reads text; closed with the model. */
  public Tokenizer tokenizer() {
    return tokenizer;
  }

  /** The tokenizer.json the model reads text with, or null for bytes. */
  byte[] tokenizerJson() {
    return tokenizerJson;
  }

  public GptConfig config() {
    return config;
  }

  /** Optimizer steps taken so far, across checkpoints. */
  public long step() {
    return step;
  }

  public long parameterCount() {
    long count = 0;
    for (Pair<String, Parameter> named : net.getParameters()) {
      count += named.getValue().getArray().size();
    }
    return count;
  }

  /** What one step did: the batch's mean loss and each row's, in nats per token. */
  public record StepResult(float loss, float[] rowLosses) {}

  /** {@link #train} in one pass; returns the mean loss. */
  public float trainStep(int[][] batch, float lr) {
    return train(batch, lr, 1).loss();
  }

  /**
   * One AdamW step on B rows of contextLength+1 token ids (inputs row[0..T), targets row[1..T]), with
   * the gradient's global norm clipped to {@code gradClip}. The batch goes through forward and backward in
   * {@code microBatches} equal parts whose gradients add up to the whole batch's (gradient accumulation).
   * A non-finite loss is returned without touching the weights; a finite loss whose gradient is not
   * finite returns NaN, also without an update.
   */
  public StepResult train(int[][] batch, float lr, int microBatches) {
    if (microBatches < 1 || batch.length % microBatches != 0) {
      throw new IllegalArgumentException(microBatches + " micro-batches do not divide a batch of " + batch.length);
    }
    int t = config.contextLength();
    long[] inputs = new long[batch.length * t];
    long[] targets = new long[batch.length * t];
    for (int row = 0; row < batch.length; row++) {
      if (batch[row].length != t + 1) {
        throw new IllegalArgumentException("row " + row + " has " + batch[row].length + " tokens, expected " + (t + 1));
      }
      for (int i = 0; i < t; i++) {
        inputs[row * t + i] = token(batch[row][i]);
        targets[row * t + i] = token(batch[row][i + 1]);
      }
    }
    synchronized (ENGINE) {
      synchronized (this) {
        return step(inputs, targets, batch.length, microBatches, lr);
      }
    }
  }

  private StepResult step(long[] inputs, long[] targets, int b, int microBatches, float lr) {
    int t = config.contextLength();
    int rows = b / microBatches;
    float[] rowLosses = new float[b];
    try (NDManager stepManager = trainer.getManager().newSubManager()) {
      try (GradientCollector collector = trainer.newGradientCollector()) {
        for (int m = 0; m < microBatches; m++) {
          Shape shape = new Shape(rows, t);
          NDArray input = staged(stepManager, inputBuffer, inputs, m * rows * t, shape);   // (b, T)
          NDArray target = staged(stepManager, targetBuffer, targets, m * rows * t, shape); // (b, T)
          NDArray logits = trainer.forward(new NDList(input)).singletonOrThrow();                                    // (b, T, V)
          NDArray perRow = Gpt.tokenLosses(logits, target).mean(new int[] {1});                                     // (b)
          // Each part carries its share of the batch mean, so the summed gradients are the whole batch's.
          collector.backward(perRow.mean().div(Gpt.scalar(stepManager, microBatches)));
          System.arraycopy(perRow.toFloatArray(), 0, rowLosses, m * rows, rows);
        }
      }
      float value = mean(rowLosses);
      float norm = Float.isFinite(value) ? gradientNorm(stepManager) : Float.NaN;
      if (!Float.isFinite(norm)) {
        zeroGradients(); // gradients accumulate in PyTorch: a skipped step must not leak into the next
        return new StepResult(Float.isFinite(value) ? Float.NaN : value, rowLosses);
      }
      optimizer.prepare(lr, Math.min(1f, train.gradClip() / (norm + 1e-6f)));
      // Grad mode is per thread and on in a new one; the update's in-place ops on leaves must run without it.
      boolean gradMode = JniUtils.isGradMode();
      JniUtils.setGradMode(false);
      try {
        trainer.step();
      } finally {
        JniUtils.setGradMode(gradMode);
      }
      step++;
      return new StepResult(value, rowLosses);
    }
  }

  private static float mean(float[] values) {
    double sum = 0;
    for (float v : values) sum += v;
    return (float) (sum / values.length);
  }

  /**
   * Keeps the token and position embeddings (and so the tied LM head) and/or the first {@code blocks}
   * transformer blocks fixed from now on: a guard against forgetting what they encode.
   */
  public void freeze(boolean embeddings, int blocks) {
    if (blocks > config.nLayers()) throw new IllegalArgumentException("cannot freeze " + blocks + " of " + config.nLayers() + " blocks");
    synchronized (ENGINE) {
      for (Pair<String, Parameter> named : net.getParameters()) {
        String path = named.getKey();
        int block = blockIndex(path);
        if ((embeddings && EMBEDDING.matcher(path).matches()) || (block >= 0 && block < blocks)) named.getValue().freeze(true);
      }
    }
  }

  /** The number of the transformer block a parameter belongs to, or -1 outside the blocks. */
  private static int blockIndex(String path) {
    Matcher m = NUMBERED_BLOCK.matcher(path);
    if (!m.matches()) return -1;
    return Integer.parseInt(m.group(1) != null ? m.group(1) : m.group(2));
  }

  /** Paths of the parameters that train (not frozen). */
  public List<String> trainableParameters() {
    List<String> paths = new ArrayList<>();
    for (Pair<String, Parameter> named : net.getParameters()) if (named.getValue().requiresGradient()) paths.add(named.getKey());
    return paths;
  }

  /**
   * From now on every update also moves each weight a step {@code lr × strength} toward {@code anchor}'s
   * (an L2 pull toward the champion, decoupled like AdamW's weight decay); strength 0 removes the pull.
   */
  public void pullTowards(LanguageModel anchor, float strength) {
    if (!anchor.config.equals(config)) throw new IllegalArgumentException("anchor is a " + anchor.config + ", this a " + config);
    synchronized (ENGINE) {
      Map<String, NDArray> weights = new HashMap<>();
      NDManager manager = model.getNDManager();
      for (Pair<String, Parameter> named : anchor.net.getParameters()) {
        NDArray w = named.getValue().getArray();
        weights.put(named.getKey(), manager.create(w.toFloatArray(), w.getShape())); // a copy this model owns
      }
      optimizer.pullTowards(weights, strength);
    }
  }

  /**
   * Moves every weight to {@code keep × this + (1 − keep) × other} (weight-space ensembling, WiSE-FT); the
   * optimizer state and step count stay this model's.
   */
  public void interpolate(LanguageModel other, float keep) {
    if (!other.config.equals(config)) throw new IllegalArgumentException("other is a " + other.config + ", this a " + config);
    synchronized (ENGINE) {
      Map<String, NDArray> theirs = new HashMap<>();
      for (Pair<String, Parameter> named : other.net.getParameters()) theirs.put(named.getKey(), named.getValue().getArray());
      NDManager manager = model.getNDManager();
      for (Pair<String, Parameter> named : net.getParameters()) {
        NDArray w = named.getValue().getArray();
        NDArray o = theirs.get(named.getKey());
        try (NDArray copy = manager.create(o.toFloatArray(), o.getShape()); NDArray toward = copy.sub(w)) {
          w.addi(toward.muli(1 - keep));
        }
      }
    }
  }

  /** Counts steps on from {@code step} if that is further: a lineage that restarts from older weights keeps its count. */
  public void continueStepsFrom(long step) {
    this.step = Math.max(this.step, step);
  }

  /**
   * Mean nats per predicted token over all sequences (each 2..contextLength+1 tokens; shorter ones are
   * padded and the padding masked). Eval mode, no gradients, 16 sequences per forward pass.
   */
  public double loss(List<int[]> sequences) {
    int[] all = new int[sequences.size()];
    Arrays.fill(all, 1);
    double totalNats = 0;
    long predicted = 0;
    for (double nats : continuationNats(sequences, all)) totalNats += nats;
    for (int[] sequence : sequences) predicted += sequence.length - 1;
    return predicted == 0 ? Double.NaN : totalNats / predicted;
  }

  /**
   * For each sequence, the nats of its tokens from index {@code scoredFrom[i]} (at least 1) to its end, each
   * predicted from all tokens before it: minus the log-likelihood of a continuation given its context.
   * Forward only, no gradients, 16 sequences per pass. Other models may train meanwhile on other threads;
   * this model's own steps wait.
   */
  public double[] continuationNats(List<int[]> sequences, int[] scoredFrom) {
    if (scoredFrom.length != sequences.size()) throw new IllegalArgumentException(scoredFrom.length + " starts for " + sequences.size() + " sequences");
    double[] nats = new double[sequences.size()];
    boolean gradMode = JniUtils.isGradMode();
    JniUtils.setGradMode(false); // thread-local: no autograd graph for evaluation
    try {
      for (int from = 0; from < sequences.size(); from += EVAL_BATCH) {
        int to = Math.min(sequences.size(), from + EVAL_BATCH);
        double[] rows = batchNats(sequences.subList(from, to), Arrays.copyOfRange(scoredFrom, from, to));
        System.arraycopy(rows, 0, nats, from, rows.length);
      }
    } finally {
      JniUtils.setGradMode(gradMode);
    }
    return nats;
  }

  private double[] batchNats(List<int[]> chunk, int[] scoredFrom) {
    int t = 0;
    for (int row = 0; row < chunk.size(); row++) {
      int[] sequence = chunk.get(row);
      if (sequence.length < 2 || sequence.length > config.contextLength() + 1) {
        throw new IllegalArgumentException("sequence of " + sequence.length + " tokens; expected 2.." + (config.contextLength() + 1));
      }
      if (scoredFrom[row] < 1 || scoredFrom[row] >= sequence.length) {
        throw new IllegalArgumentException("scoring from token " + scoredFrom[row] + " of a sequence of " + sequence.length);
      }
      t = Math.max(t, sequence.length - 1);
    }
    long[] inputs = new long[chunk.size() * t];
    long[] targets = new long[chunk.size() * t];
    float[] mask = new float[chunk.size() * t];
    for (int row = 0; row < chunk.size(); row++) {
      int[] sequence = chunk.get(row);
      for (int i = 0; i + 1 < sequence.length; i++) {
        inputs[row * t + i] = token(sequence[i]);
        targets[row * t + i] = token(sequence[i + 1]);
        mask[row * t + i] = i + 1 >= scoredFrom[row] ? 1f : 0f;
      }
    }
    synchronized (this) {
      return batchNats(inputs, targets, mask, chunk.size(), t);
    }
  }

  private double[] batchNats(long[] inputs, long[] targets, float[] mask, int b, int t) {
    try (NDManager batchManager = model.getNDManager().newSubManager()) {
      Shape shape = new Shape(b, t);
      NDArray logits = net.forward(new ParameterStore(batchManager, false),
          new NDList(staged(batchManager, inputBuffer, inputs, 0, shape)), false).singletonOrThrow(); // (B, T, V)
      NDArray nats = Gpt.tokenLosses(logits, staged(batchManager, targetBuffer, targets, 0, shape));      // (B, T)
      // Causal attention: right padding cannot change earlier positions, so masking targets suffices.
      return nats.mul(batchManager.create(mask, shape)).toType(DataType.FLOAT64, false).sum(new int[] {1}).toDoubleArray(); // (B)
    }
  }


  /**
   * {@code shape.size()} ids from {@code values[from..]} as an int64 array over the model's own direct buffer, at
   * the same offset. DJL would copy each array into a fresh direct buffer that the tensor lives in
   * (from_blob) and that only a garbage collection frees: resident memory crept up step after step. The buffer
   * is reused by the next step or evaluation (one at a time per model: the model's lock) once this one's
   * manager has closed.
   */
  private static NDArray staged(NDManager manager, Staging staging, long[] values, int from, Shape shape) {
    int n = Math.toIntExact(shape.size());
    ByteBuffer buffer = staging.reserve(values.length).slice(from * Long.BYTES, n * Long.BYTES).order(ByteOrder.nativeOrder());
    buffer.asLongBuffer().put(values, from, n);
    return manager.create(buffer, shape, DataType.INT64);
  }

  /** A direct buffer that grows to the largest batch seen. */
  private static final class Staging {
    private ByteBuffer buffer = ByteBuffer.allocateDirect(0);

    ByteBuffer reserve(int longs) {
      if (buffer.capacity() < longs * Long.BYTES) buffer = ByteBuffer.allocateDirect(longs * Long.BYTES).order(ByteOrder.nativeOrder());
      return buffer;
    }
  }

  private long token(int id) {
    if (id < 0 || id >= config.vocabSize()) {
      throw new IllegalArgumentException("token id " + id + " outside vocabulary of " + config.vocabSize());
    }
    return id;
  }

  /** L2 norm over all gradients together, computed in the step's manager. */
  private float gradientNorm(NDManager stepManager) {
    NDArray sumOfSquares = stepManager.zeros(new Shape());
    for (Pair<String, Parameter> named : net.getParameters()) {
      if (!named.getValue().requiresGradient()) continue;
      NDArray grad = named.getValue().getArray().getGradient();
      grad.attach(stepManager); // the gradient view would otherwise stay in the model's manager
      sumOfSquares = sumOfSquares.add(grad.square().sum());
    }
    return (float) Math.sqrt(sumOfSquares.getFloat());
  }

  private void zeroGradients() {
    for (Pair<String, Parameter> named : net.getParameters()) {
      if (!named.getValue().requiresGradient()) continue;
      JniUtils.zeroGrad((PtNDArray) named.getValue().getArray());
    }
  }

  /** The path of the first parameter that holds a NaN or an infinity, if one does: such weights are never promoted. */
  public Optional<String> nonFiniteParameter() {
    for (Map.Entry<String, float[]> named : parameterValuesByPath().entrySet()) {
      for (float v : named.getValue()) {
        if (!Float.isFinite(v)) return Optional.of(named.getKey());
      }
    }
    return Optional.empty();
  }

  /** Every parameter's values by path, copied to the heap, in path order. */
  Map<String, float[]> parameterValuesByPath() {
    Map<String, float[]> values = new TreeMap<>();
    synchronized (ENGINE) {
      for (Pair<String, Parameter> named : net.getParameters()) values.put(named.getKey(), named.getValue().getArray().toFloatArray());
    }
    return values;
  }

  /** All parameters' values, concatenated in path order. */
  float[] parameterValues() {
    Map<String, float[]> byPath = parameterValuesByPath();
    float[] all = new float[byPath.values().stream().mapToInt(v -> v.length).sum()];
    int at = 0;
    for (float[] v : byPath.values()) {
      System.arraycopy(v, 0, all, at, v.length);
      at += v.length;
    }
    return all;
  }

  Trainer trainer() {
    return trainer;
  }

  byte[] parameterBytes() throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    synchronized (ENGINE) {
      try (DataOutputStream out = new DataOutputStream(bytes)) {
        if (net instanceof PtSymbolBlock module) {
          JniUtils.writeModule(module, out, false); // a TorchScript archive torch.jit.load reads
        } else {
          net.saveParameters(out);
        }
      }
    }
    return bytes.toByteArray();
  }

  byte[] optimizerBytes() throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    synchronized (ENGINE) {
      try (DataOutputStream out = new DataOutputStream(bytes)) {
        optimizer.save(out);
      }
    }
    return bytes.toByteArray();
  }

  @Override
  public void close() {
    synchronized (ENGINE) {
      synchronized (this) {
        trainer.close();
        model.close();
      }
    }
    tokenizer.close();
  }
}
