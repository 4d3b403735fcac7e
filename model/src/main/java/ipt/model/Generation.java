package ipt.model;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Continues a prompt under a model whose net maps (B, T) int64 ids to (B, T, V) logits (the ipt GPT, a TorchScript
 * module). The prompt is read as the start of a document: after the end-of-text token that precedes every document
 * in the packed stream the model trained on. Each new token is drawn ({@link Sampling}) from the logits at the last
 * position of a forward pass over the last {@code contextLength} tokens (a sliding window, recomputed every token:
 * no KV cache, whose gain BENCHMARKS.md measures), until {@code maxTokens} or the end-of-text token.
 *
 * <p>Forward only, no gradients; every step takes the model's own lock, as {@link Scoring} does, so other models
 * keep training meanwhile and this model's steps wait between tokens. Each step's arrays live in a sub-manager
 * closed with the step: memory stays flat however long the continuation.
 */
public final class Generation {

    /**
     * A prompt's continuation: its text and token ids (without the end-of-text token), the prompt's length in
     * tokens, whether the model ended the text itself, and the time the tokens took.
     */
    public record Continuation(
            String prompt, String text, int[] tokens, int promptTokens, boolean endOfText, long nanos) {

        public double tokensPerSecond() {
            return tokens.length / (nanos / 1e9);
        }
    }

    private Generation() {}

    /** The prompt's continuation under the model, drawn as {@code sampling} says; the same seed gives the same text. */
    public static Continuation generate(LanguageModel model, String prompt, Sampling sampling) {
        Tokenizer tokenizer = model.tokenizer();
        int[] promptIds = tokenizer.encode(prompt);
        int[] ids = new int[1 + promptIds.length + sampling.maxTokens()];
        ids[0] = tokenizer.eos();
        System.arraycopy(promptIds, 0, ids, 1, promptIds.length);
        int length = 1 + promptIds.length;
        int contextLength = model.config().contextLength();
        SplittableRandom random = new SplittableRandom(sampling.seed());
        boolean endOfText = false;
        long start = System.nanoTime();
        boolean gradMode = JniUtils.isGradMode();
        JniUtils.setGradMode(false); // thread-local: no autograd graph
        try {
            while (length - 1 - promptIds.length < sampling.maxTokens()) {
                int from = Math.max(0, length - contextLength);
                int next = sampling.next(lastLogits(model, ids, from, length - from), random);
                if (next == tokenizer.eos()) {
                    endOfText = true;
                    break;
                }
                ids[length++] = next;
            }
        } finally {
            JniUtils.setGradMode(gradMode);
        }
        long nanos = System.nanoTime() - start;
        int[] generated = Arrays.copyOfRange(ids, 1 + promptIds.length, length);
        return new Continuation(prompt, tokenizer.decode(generated), generated, promptIds.length, endOfText, nanos);
    }

    /**
     * The logits (V) at the last of {@code ids[from, from + t)}, from one forward pass over them (at most the model's
     * context). The caller turns gradients off.
     */
    static float[] lastLogits(LanguageModel model, int[] ids, int from, int t) {
        long[] input = new long[t];
        for (int i = 0; i < t; i++) input[i] = model.token(ids[from + i]);
        synchronized (model) {
            try (NDManager step = model.model.getNDManager().newSubManager()) {
                return model.net
                        .forward(
                                new ParameterStore(step, false),
                                new NDList(LanguageModel.staged(step, model.inputBuffer, input, 0, new Shape(1, t))),
                                false)
                        .singletonOrThrow() // (1, T, V)
                        .get(0, t - 1)
                        .toFloatArray();
            }
        }
    }
}
