package ipt.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.util.Pair;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A model in training: its AdamW state, the optimizer steps taken, which parameters are frozen and the L2 pull
 * toward an anchor. One step at a time; the model it trains scores text meanwhile as any model does.
 */
public final class Training implements AutoCloseable {
    private final LanguageModel model;
    private final TrainConfig train;
    private final AdamW optimizer;
    private final Trainer trainer;
    private long step;

    private Training(LanguageModel model, TrainConfig train, InputStream optimizerState, long step) throws IOException {
        this.model = model;
        this.train = train;
        this.step = step;
        synchronized (LanguageModel.ENGINE) {
            Map<String, String> pathById = new HashMap<>();
            for (Pair<String, Parameter> named : model.net.getParameters()) {
                pathById.put(named.getValue().getId(), named.getKey());
            }
            optimizer = new AdamW(train, pathById);
            // DJL requires a Loss here; steps compute Gpt.tokenLosses themselves.
            trainer = model.model.newTrainer(new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                    // The model's own device: with another, DJL's ParameterStore would train copies of the weights.
                    .optDevices(new Device[] {model.device()})
                    .optOptimizer(optimizer));
            try {
                // The weights are initialised already: this keeps them and only marks them trainable.
                trainer.initialize(new Shape(1, model.config().contextLength()));
                if (optimizerState != null) {
                    optimizer.load(new DataInputStream(optimizerState), model.model.getNDManager());
                }
            } catch (IOException | RuntimeException e) {
                trainer.close();
                throw e;
            }
        }
    }

    /** Trains {@code model} from its current weights with a fresh optimizer, from step 0; closes it when closed. */
    public static Training start(LanguageModel model, TrainConfig train) {
        try {
            return new Training(model, train, null, 0);
        } catch (IOException e) {
            throw new IllegalStateException("nothing is read when starting to train", e);
        }
    }

    /** Goes on training {@code model} with the optimizer state {@link #optimizerBytes} saved at {@code step}. */
    public static Training resume(LanguageModel model, TrainConfig train, byte[] optimizerState, long step)
            throws IOException {
        return resume(model, train, new ByteArrayInputStream(optimizerState), step);
    }

    /**
     * As {@link #resume(LanguageModel, TrainConfig, byte[], long)}, the state read from {@code optimizerState} as
     * {@link #writeOptimizer} wrote it, up to its end (the stream is left open).
     */
    public static Training resume(LanguageModel model, TrainConfig train, InputStream optimizerState, long step)
            throws IOException {
        return new Training(model, train, optimizerState, step);
    }

    /** A fresh model, its weights deterministic from {@code train.seed()}, ready to train. */
    public static Training create(GptConfig config, TrainConfig train) {
        return start(LanguageModel.create(config, train.seed()), train);
    }

    /** The model being trained. */
    public LanguageModel model() {
        return model;
    }

    /** Optimizer steps taken so far, across checkpoints. */
    public long step() {
        return step;
    }

    /** Counts steps on from {@code step} if that is further: a lineage that restarts from older weights keeps its
     * count. */
    public void continueStepsFrom(long step) {
        this.step = Math.max(this.step, step);
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
            throw new IllegalArgumentException(
                    microBatches + " micro-batches do not divide a batch of " + batch.length);
        }
        int t = model.config().contextLength();
        long[] inputs = new long[batch.length * t];
        long[] targets = new long[batch.length * t];
        for (int row = 0; row < batch.length; row++) {
            if (batch[row].length != t + 1) {
                throw new IllegalArgumentException(
                        "row " + row + " has " + batch[row].length + " tokens, expected " + (t + 1));
            }
            for (int i = 0; i < t; i++) {
                inputs[row * t + i] = model.token(batch[row][i]);
                targets[row * t + i] = model.token(batch[row][i + 1]);
            }
        }
        synchronized (LanguageModel.ENGINE) {
            synchronized (model) {
                return step(inputs, targets, batch.length, microBatches, lr);
            }
        }
    }

    private StepResult step(long[] inputs, long[] targets, int b, int microBatches, float lr) {
        int t = model.config().contextLength();
        int rows = b / microBatches;
        float[] rowLosses = new float[b];
        try (NDManager stepManager = trainer.getManager().newSubManager()) {
            try (GradientCollector collector = trainer.newGradientCollector()) {
                for (int m = 0; m < microBatches; m++) {
                    Shape shape = new Shape(rows, t);
                    NDArray input =
                            LanguageModel.staged(stepManager, model.inputBuffer, inputs, m * rows * t, shape); // (b, T)
                    NDArray target = LanguageModel.staged(
                            stepManager, model.targetBuffer, targets, m * rows * t, shape); // (b, T)
                    NDArray logits = trainer.forward(new NDList(input)).singletonOrThrow(); // (b, T, V)
                    NDArray perRow = Gpt.tokenLosses(logits, target).mean(new int[] {1}); // (b)
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

    /** L2 norm over all gradients together, computed in the step's manager. */
    private float gradientNorm(NDManager stepManager) {
        NDArray sumOfSquares = stepManager.zeros(new Shape());
        for (Pair<String, Parameter> named : model.net.getParameters()) {
            if (!named.getValue().requiresGradient()) continue;
            NDArray grad = named.getValue().getArray().getGradient();
            grad.attach(stepManager); // the gradient view would otherwise stay in the model's manager
            sumOfSquares = sumOfSquares.add(grad.square().sum());
        }
        return (float) Math.sqrt(sumOfSquares.getFloat());
    }

    private void zeroGradients() {
        for (Pair<String, Parameter> named : model.net.getParameters()) {
            if (!named.getValue().requiresGradient()) continue;
            JniUtils.zeroGrad((PtNDArray) named.getValue().getArray());
        }
    }

    /**
     * Keeps the token and position embeddings (and so the tied LM head) and/or the first {@code blocks}
     * transformer blocks fixed from now on: a guard against forgetting what they encode.
     */
    public void freeze(boolean embeddings, int blocks) {
        if (blocks > model.config().nLayers())
            throw new IllegalArgumentException(
                    "cannot freeze " + blocks + " of " + model.config().nLayers() + " blocks");
        synchronized (LanguageModel.ENGINE) {
            for (Pair<String, Parameter> named : model.net.getParameters()) {
                String path = named.getKey();
                int block = LanguageModel.blockIndex(path);
                if ((embeddings && LanguageModel.EMBEDDING.matcher(path).matches()) || (block >= 0 && block < blocks))
                    named.getValue().freeze(true);
            }
        }
    }

    /** Paths of the parameters that train (not frozen). */
    public List<String> trainableParameters() {
        List<String> paths = new ArrayList<>();
        for (Pair<String, Parameter> named : model.net.getParameters())
            if (named.getValue().requiresGradient()) paths.add(named.getKey());
        return paths;
    }

    /**
     * From now on every update also moves each weight a step {@code lr × strength} toward {@code anchor}'s
     * (an L2 pull toward the champion, decoupled like AdamW's weight decay); strength 0 removes the pull.
     */
    public void pullTowards(LanguageModel anchor, float strength) {
        if (!anchor.config().equals(model.config())) {
            throw new IllegalArgumentException("anchor is a " + anchor.config() + ", this a " + model.config());
        }
        synchronized (LanguageModel.ENGINE) {
            Map<String, NDArray> weights = new HashMap<>();
            NDManager manager = model.model.getNDManager();
            for (Pair<String, Parameter> named : anchor.net.getParameters()) {
                NDArray w = named.getValue().getArray();
                weights.put(
                        named.getKey(),
                        manager.create(ComputeDevice.floats(w), w.getShape())); // a copy this model owns
            }
            optimizer.pullTowards(weights, strength);
        }
    }

    Trainer trainer() {
        return trainer;
    }

    /** AdamW's state as {@link #resume} reads it, in one array: for tests and small models (see writeOptimizer). */
    public byte[] optimizerBytes() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        writeOptimizer(bytes);
        return bytes.toByteArray();
    }

    /**
     * Writes AdamW's state to {@code out} (left open, flushed) a moment at a time: two float32 moments a parameter,
     * 8 bytes, pass a Java array's 2 GiB from about 268M parameters, and one array would also double the heap it
     * takes.
     */
    public void writeOptimizer(OutputStream out) throws IOException {
        synchronized (LanguageModel.ENGINE) {
            DataOutputStream data = new DataOutputStream(out);
            optimizer.save(data);
            data.flush();
        }
    }

    @Override
    public void close() {
        synchronized (LanguageModel.ENGINE) {
            synchronized (model) {
                trainer.close();
            }
        }
        model.close();
    }
}
