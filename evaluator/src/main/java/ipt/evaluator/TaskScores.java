package ipt.evaluator;

import ipt.model.LanguageModel;
import ipt.model.Task;
import ipt.model.Tokenizer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's metrics on a task, forward only: for text loss (nats per token) and, comparable across tokenizers
 * and scripts, bits per UTF-8 byte and nats per character; acc and acc_norm for multiple choice.
 */
final class TaskScores {
    static final String LOSS = "loss";
    static final String BITS_PER_BYTE = "bits_per_byte";
    static final String NATS_PER_CHAR = "nats_per_char";
    static final String ACC = "acc";
    static final String ACC_NORM = "acc_norm";

    /** Metric values by name, in a fixed order (reports list them so), and the number of sequences or items they
     * came from. */
    record Score(Map<String, Double> metrics, int count) {
        Score {
            metrics = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(metrics));
        }
    }

    private TaskScores() {}

    static boolean higherIsBetter(String metric) {
        return metric.equals(ACC) || metric.equals(ACC_NORM);
    }

    static Score score(LanguageModel model, Task task) {
        if (task instanceof Task.Text text) return text(model, text);
        return choices(model, (Task.Choices) task);
    }

    private static Score text(LanguageModel model, Task.Text task) {
        List<int[]> sequences =
                model.tokenizer().windows(task.documents(), model.config().contextLength() + 1);
        double loss = model.loss(sequences);
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put(LOSS, loss);
        metrics.putAll(perText(loss, sequences, task.documents()));
        return new Score(metrics, sequences.size());
    }

    /**
     * The same nats per UTF-8 byte (in bits) and per character (code point): a byte-level model spends three tokens
     * on a Chinese character, so its loss per token looks three times better than a word-piece model's on the same
     * text. The first token of each window is not predicted: the text counted is the share of the predicted tokens
     * (exact for the byte-level model, where a token is a byte; a document separator counts as one byte and char).
     */
    static Map<String, Double> perText(double lossPerToken, List<int[]> sequences, List<String> documents) {
        long tokens = 0;
        long predicted = 0;
        for (int[] s : sequences) {
            tokens += s.length;
            predicted += s.length - 1;
        }
        long bytes = Math.max(0, documents.size() - 1);
        long chars = bytes;
        for (String d : documents) {
            bytes += d.getBytes(StandardCharsets.UTF_8).length;
            chars += d.codePointCount(0, d.length());
        }
        Map<String, Double> out = new LinkedHashMap<>();
        double covered = predicted == 0 ? 0 : (double) predicted / tokens;
        double nats = lossPerToken * predicted;
        out.put(BITS_PER_BYTE, covered == 0 || bytes == 0 ? Double.NaN : nats / Math.log(2) / (bytes * covered));
        out.put(NATS_PER_CHAR, covered == 0 || chars == 0 ? Double.NaN : nats / (chars * covered));
        return out;
    }

    /**
     * Each choice scored by the summed log-likelihood of its tokens after the context, as lm-evaluation-harness
     * does: acc counts items whose answer has the highest sum, acc_norm the highest sum per UTF-8 byte of the
     * choice. A context too long for the model keeps its last tokens.
     */
    private static Score choices(LanguageModel model, Task.Choices task) {
        int window = model.config().contextLength() + 1;
        Tokenizer tokenizer = model.tokenizer();
        List<int[]> sequences = new ArrayList<>();
        List<Integer> starts = new ArrayList<>();
        for (Task.Item item : task.items()) {
            int[] context = tokenizer.encode(item.context());
            for (String choice : item.choices()) {
                int[] continuation = tokenizer.encode(choice);
                if (continuation.length == 0 || continuation.length >= window) {
                    throw new IllegalArgumentException(task.name() + ": a choice of " + continuation.length
                            + " tokens does not fit a context of " + window);
                }
                int kept = Math.min(context.length, window - continuation.length);
                if (kept == 0) throw new IllegalArgumentException(task.name() + ": an item has an empty context");
                int[] sequence = new int[kept + continuation.length];
                System.arraycopy(context, context.length - kept, sequence, 0, kept);
                System.arraycopy(continuation, 0, sequence, kept, continuation.length);
                sequences.add(sequence);
                starts.add(kept);
            }
        }
        double[] nats = model.continuationNats(
                sequences, starts.stream().mapToInt(Integer::intValue).toArray());
        int at = 0;
        int right = 0;
        int rightNormalised = 0;
        for (Task.Item item : task.items()) {
            int best = 0;
            int bestNormalised = 0;
            double bestLikelihood = Double.NEGATIVE_INFINITY;
            double bestPerByte = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < item.choices().size(); c++) {
                double likelihood = -nats[at + c];
                double perByte = likelihood / item.choices().get(c).getBytes(StandardCharsets.UTF_8).length;
                if (likelihood > bestLikelihood) {
                    bestLikelihood = likelihood;
                    best = c;
                }
                if (perByte > bestPerByte) {
                    bestPerByte = perByte;
                    bestNormalised = c;
                }
            }
            if (best == item.answer()) right++;
            if (bestNormalised == item.answer()) rightNormalised++;
            at += item.choices().size();
        }
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put(ACC, right / (double) task.items().size());
        metrics.put(ACC_NORM, rightNormalised / (double) task.items().size());
        return new Score(metrics, task.items().size());
    }
}
