package ipt.model;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.engine.PtNDArray;
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
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The GPT with its AdamW state: one training step at a time, loss evaluation, and its checkpoint bytes. */
public final class LanguageModel implements AutoCloseable {

  static final String PARAMS_FILE = "params.bin";
  static final String OPTIMIZER_FILE = "optimizer.bin";
  private static final int EVAL_BATCH = 16;
  /**
   * Models in one JVM take turns on the engine: the PyTorch engine allows one active GradientCollector
   * per JVM, and a step interleaved with another model's work was seen to produce NaN losses.
   */
  private static final Object ENGINE = new Object();

  private final GptConfig config;
  private final TrainConfig train;
  private final Model model;
  private final Gpt gpt;
  private final AdamW optimizer;
  private final Trainer trainer;
  private long step;

  private LanguageModel(GptConfig config, TrainConfig train, byte[] params, byte[] optimizerState, long step)
      throws IOException, MalformedModelException {
    this.config = config;
    this.train = train;
    this.step = step;
    synchronized (ENGINE) {
      model = Model.newInstance("ipt-gpt", Device.cpu(), "PyTorch");
      try {
        gpt = new Gpt(config);
        model.setBlock(gpt);
        gpt.seedInitializers(train.seed());
        if (params != null) {
          // Loaded parameters count as initialised: trainer.initialize keeps them and only marks them trainable.
          gpt.loadParameters(model.getNDManager(), new DataInputStream(new ByteArrayInputStream(params)));
        }
        Map<String, String> pathById = new HashMap<>();
        for (Pair<String, Parameter> named : gpt.getParameters()) {
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
      } catch (Exception e) {
        model.close();
        throw e;
      }
    }
  }

  /** Fresh weights, deterministic from {@code train.seed()}. */
  public static LanguageModel create(GptConfig config, TrainConfig train) {
    try {
      return new LanguageModel(config, train, null, null, 0);
    } catch (IOException | MalformedModelException e) {
      throw new IllegalStateException("nothing is read when creating a model", e);
    }
  }

  /** Parameters, optimizer state and step count of a verified checkpoint. */
  public static LanguageModel load(Checkpoint checkpoint, TrainConfig train) {
    try {
      Checkpoint.Manifest manifest = checkpoint.manifest();
      return new LanguageModel(manifest.model(), train, checkpoint.file(PARAMS_FILE),
          checkpoint.file(OPTIMIZER_FILE), manifest.step());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (MalformedModelException e) {
      throw new UncheckedIOException(new IOException(checkpoint.dir() + ": " + e.getMessage(), e));
    }
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
    for (Pair<String, Parameter> named : gpt.getParameters()) {
      count += named.getValue().getArray().size();
    }
    return count;
  }

  /**
   * One AdamW step on B rows of contextLength+1 token ids (inputs row[0..T), targets row[1..T]), with
   * the gradient's global norm clipped to {@code gradClip}. Returns the mean loss in nats per token. A
   * non-finite loss is returned without touching the weights; a finite loss whose gradient is not
   * finite returns NaN, also without an update.
   */
  public float trainStep(int[][] batch, float lr) {
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
      return step(inputs, targets, batch.length, lr);
    }
  }

  private float step(long[] inputs, long[] targets, int b, float lr) {
    int t = config.contextLength();
    try (NDManager stepManager = trainer.getManager().newSubManager()) {
      NDArray input = stepManager.create(inputs, new Shape(b, t));    // (B, T)
      NDArray target = stepManager.create(targets, new Shape(b, t));  // (B, T)
      NDArray loss;
      try (GradientCollector collector = trainer.newGradientCollector()) {
        NDArray logits = trainer.forward(new NDList(input)).singletonOrThrow(); // (B, T, V)
        loss = Gpt.tokenLosses(logits, target).mean();
        collector.backward(loss);
      }
      float value = loss.getFloat();
      float norm = Float.isFinite(value) ? gradientNorm(stepManager) : Float.NaN;
      if (!Float.isFinite(norm)) {
        zeroGradients(); // gradients accumulate in PyTorch: a skipped step must not leak into the next
        return Float.isFinite(value) ? Float.NaN : value;
      }
      optimizer.prepare(lr, Math.min(1f, train.gradClip() / (norm + 1e-6f)));
      trainer.step();
      step++;
      return value;
    }
  }

  /**
   * Mean nats per predicted token over all sequences (each 2..contextLength+1 tokens; shorter ones are
   * padded and the padding masked). Eval mode, no gradients, 16 sequences per forward pass. May run on
   * another thread than the training of a different model, but not concurrently with this model's trainStep.
   */
  public double loss(List<int[]> sequences) {
    double totalNats = 0;
    long predicted = 0;
    boolean gradMode = JniUtils.isGradMode();
    JniUtils.setGradMode(false); // thread-local: no autograd graph for evaluation
    try {
      for (int from = 0; from < sequences.size(); from += EVAL_BATCH) {
        List<int[]> chunk = sequences.subList(from, Math.min(sequences.size(), from + EVAL_BATCH));
        totalNats += batchNats(chunk);
        for (int[] sequence : chunk) {
          predicted += sequence.length - 1;
        }
      }
    } finally {
      JniUtils.setGradMode(gradMode);
    }
    return predicted == 0 ? Double.NaN : totalNats / predicted;
  }

  private double batchNats(List<int[]> chunk) {
    int t = 0;
    for (int[] sequence : chunk) {
      if (sequence.length < 2 || sequence.length > config.contextLength() + 1) {
        throw new IllegalArgumentException("sequence of " + sequence.length + " tokens; expected 2.." + (config.contextLength() + 1));
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
        mask[row * t + i] = 1f;
      }
    }
    synchronized (ENGINE) {
      return batchNats(inputs, targets, mask, chunk.size(), t);
    }
  }

  private double batchNats(long[] inputs, long[] targets, float[] mask, int b, int t) {
    try (NDManager batchManager = model.getNDManager().newSubManager()) {
      Shape shape = new Shape(b, t);
      NDArray logits = gpt.forward(new ParameterStore(batchManager, false),
          new NDList(batchManager.create(inputs, shape)), false).singletonOrThrow(); // (B, T, V)
      NDArray nats = Gpt.tokenLosses(logits, batchManager.create(targets, shape));      // (B, T)
      // Causal attention: right padding cannot change earlier positions, so masking targets suffices.
      return nats.mul(batchManager.create(mask, shape)).sum().toType(DataType.FLOAT64, false).getDouble();
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
    for (Pair<String, Parameter> named : gpt.getParameters()) {
      NDArray grad = named.getValue().getArray().getGradient();
      grad.attach(stepManager); // the gradient view would otherwise stay in the model's manager
      sumOfSquares = sumOfSquares.add(grad.square().sum());
    }
    return (float) Math.sqrt(sumOfSquares.getFloat());
  }

  private void zeroGradients() {
    for (Pair<String, Parameter> named : gpt.getParameters()) {
      JniUtils.zeroGrad((PtNDArray) named.getValue().getArray());
    }
  }

  Trainer trainer() {
    return trainer;
  }

  byte[] parameterBytes() throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    synchronized (ENGINE) {
      try (DataOutputStream out = new DataOutputStream(bytes)) {
        gpt.saveParameters(out);
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
      trainer.close();
      model.close();
    }
  }
}
