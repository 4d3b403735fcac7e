package ipt.model;

import ai.djl.ndarray.NDArray;
import ai.djl.training.ParameterStore;

/** An architecture that decodes from a {@link KvCache}: ipt's GPT and the Hugging Face GPT-2, Llama and Qwen2. */
interface CachedDecoder {

    /**
     * (B, t) int64 ids of the positions after the cached ones -> (B, V) logits at the last of them (only that
     * position goes through the final norm and the head), the cache grown by their keys and values. Positions are
     * absolute: the first new id is at {@code cache.positions()}; the caller keeps them within the model's context.
     * Without a cache (null) the ids start at position 0 and nothing is kept. Inference only (no gradients).
     */
    NDArray nextLogits(ParameterStore ps, NDArray ids, KvCache cache);
}
