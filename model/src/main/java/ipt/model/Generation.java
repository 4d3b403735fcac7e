package ipt.model;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Continues a prompt under a model whose net maps (B, T) int64 ids to (B, T, V) logits (ipt's GPT, Hugging Face GPT-2,
 * Llama and Qwen2, a TorchScript module). The prompt is read as the start of a document: after the end-of-text token
 * that precedes every document in the packed stream the model trained on. Each new token is drawn ({@link Sampling})
 * from the logits at the last position of the last {@code contextLength} tokens (a sliding window), until
 * {@code maxTokens} or the end-of-text token.
 *
 * <p>{@link Decoding#KV_CACHE} (the default for every architecture but TorchScript, which cannot be given one from
 * outside) runs the prompt through the model once, then one position a token, attending to the cached keys and values
 * of the positions before. Once the sequence is longer than the context, each token is a forward pass over the last
 * {@code contextLength} tokens from position 0 (logits at the last position only), as {@link Decoding#FULL_WINDOW}
 * computes every token: the window's positions shift by one a token, so no cached key stays valid; the tokens are the
 * same, the speed about that of the full window. The cache holds keys and values of the weights they were computed
 * with: {@code ipt generate} and the demo generate from a model opened for it, which nothing trains meanwhile.
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

    /** How each token's logits are computed; both give the same logits (within float rounding). */
    public enum Decoding {
        /** One position a token over cached keys and values, while the sequence fits the context. */
        KV_CACHE,
        /** A forward pass over the whole window every token, logits at every position (how it ran before the cache). */
        FULL_WINDOW
    }

    private Generation() {}

    /**
     * The prompt's continuation under the model, drawn as {@code sampling} says, with a KV cache where the architecture
     * has one; the same seed gives the same text.
     */
    public static Continuation generate(LanguageModel model, String prompt, Sampling sampling) {
        return generate(model, prompt, sampling, Decoding.KV_CACHE);
    }

    /** As {@link #generate(LanguageModel, String, Sampling)}, computing logits as {@code decoding} says. */
    public static Continuation generate(LanguageModel model, String prompt, Sampling sampling, Decoding decoding) {
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
        boolean cached = decoding == Decoding.KV_CACHE && model.net instanceof CachedDecoder;
        try (KvCache cache = cached ? new KvCache(model.model.getNDManager()) : null) {
            while (length - 1 - promptIds.length < sampling.maxTokens()) {
                int from = Math.max(0, length - contextLength);
                float[] logits;
                if (cache == null) logits = lastLogits(model, ids, from, length - from);
                else if (from == 0) logits = nextLogits(model, cache, ids, cache.positions(), length);
                else {
                    cache.clear(); // past the context: the window from position 0, every token from now on
                    logits = nextLogits(model, null, ids, from, length);
                }
                int next = sampling.next(logits, random);
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
     * The logits (V) at {@code ids[until - 1]}, from one forward pass over {@code ids[from, until)}, which follow the
     * positions {@code cache} holds; the cache grows by them. Without a cache (null), they start at position 0. The
     * caller turns gradients off.
     */
    static float[] nextLogits(LanguageModel model, KvCache cache, int[] ids, int from, int until) {
        long[] input = new long[until - from];
        for (int i = 0; i < input.length; i++) input[i] = model.token(ids[from + i]);
        synchronized (model) {
            try (NDManager step = model.model.getNDManager().newSubManager()) {
                return ((CachedDecoder) model.net)
                        .nextLogits(
                                new ParameterStore(step, false),
                                LanguageModel.staged(step, model.inputBuffer, input, 0, new Shape(1, input.length)),
                                cache)
                        .get(0) // (V)
                        .toFloatArray();
            }
        }
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
