package ipt.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import java.util.Arrays;
import java.util.List;

/**
 * Scores text under a model, forward only: no gradients, no optimizer, padded batches of 16 with the padding masked.
 * Other models may train meanwhile on other threads; the scored model's own steps wait (its lock).
 */
final class Scoring {
    private static final int EVAL_BATCH = 16;

    private Scoring() {}

    static double loss(LanguageModel model, List<int[]> sequences) {
        int[] all = new int[sequences.size()];
        Arrays.fill(all, 1);
        double totalNats = 0;
        long predicted = 0;
        for (double nats : continuationNats(model, sequences, all)) totalNats += nats;
        for (int[] sequence : sequences) predicted += sequence.length - 1;
        return predicted == 0 ? Double.NaN : totalNats / predicted;
    }

    static double[] continuationNats(LanguageModel model, List<int[]> sequences, int[] scoredFrom) {
        if (scoredFrom.length != sequences.size()) {
            throw new IllegalArgumentException(scoredFrom.length + " starts for " + sequences.size() + " sequences");
        }
        double[] nats = new double[sequences.size()];
        boolean gradMode = JniUtils.isGradMode();
        JniUtils.setGradMode(false); // thread-local: no autograd graph for evaluation
        try {
            for (int from = 0; from < sequences.size(); from += EVAL_BATCH) {
                int to = Math.min(sequences.size(), from + EVAL_BATCH);
                double[] rows = batchNats(model, sequences.subList(from, to), Arrays.copyOfRange(scoredFrom, from, to));
                System.arraycopy(rows, 0, nats, from, rows.length);
            }
        } finally {
            JniUtils.setGradMode(gradMode);
        }
        return nats;
    }

    private static double[] batchNats(LanguageModel model, List<int[]> chunk, int[] scoredFrom) {
        int contextLength = model.config().contextLength();
        int t = 0;
        for (int row = 0; row < chunk.size(); row++) {
            int[] sequence = chunk.get(row);
            if (sequence.length < 2 || sequence.length > contextLength + 1) {
                throw new IllegalArgumentException(
                        "sequence of " + sequence.length + " tokens; expected 2.." + (contextLength + 1));
            }
            if (scoredFrom[row] < 1 || scoredFrom[row] >= sequence.length) {
                throw new IllegalArgumentException(
                        "scoring from token " + scoredFrom[row] + " of a sequence of " + sequence.length);
            }
            t = Math.max(t, sequence.length - 1);
        }
        long[] inputs = new long[chunk.size() * t];
        long[] targets = new long[chunk.size() * t];
        float[] mask = new float[chunk.size() * t];
        for (int row = 0; row < chunk.size(); row++) {
            int[] sequence = chunk.get(row);
            for (int i = 0; i + 1 < sequence.length; i++) {
                inputs[row * t + i] = model.token(sequence[i]);
                targets[row * t + i] = model.token(sequence[i + 1]);
                mask[row * t + i] = i + 1 >= scoredFrom[row] ? 1f : 0f;
            }
        }
        synchronized (model) {
            return batchNats(model, inputs, targets, mask, chunk.size(), t);
        }
    }

    private static double[] batchNats(LanguageModel model, long[] inputs, long[] targets, float[] mask, int b, int t) {
        try (NDManager batchManager = model.model.getNDManager().newSubManager()) {
            Shape shape = new Shape(b, t);
            NDArray logits = model.net
                    .forward(
                            new ParameterStore(batchManager, false),
                            new NDList(LanguageModel.staged(batchManager, model.inputBuffer, inputs, 0, shape)),
                            false)
                    .singletonOrThrow(); // (B, T, V)
            NDArray nats = Gpt.tokenLosses(
                    logits, LanguageModel.staged(batchManager, model.targetBuffer, targets, 0, shape)); // (B, T)
            // Causal attention: right padding cannot change earlier positions, so masking targets suffices.
            return nats.mul(batchManager.create(mask, shape))
                    .toType(DataType.FLOAT64, false)
                    .sum(new int[] {1})
                    .toDoubleArray(); // (B)
        }
    }
}
