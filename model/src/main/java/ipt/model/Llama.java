package ipt.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.ArrayList;
import java.util.List;

/**
 * transformers' LlamaForCausalLM, and Qwen2ForCausalLM (Llama with biases on q, k and v), from config.json: a token
 * embedding, num_hidden_layers pre-RMSNorm blocks of causal self-attention with rotary positions (RoPE, in
 * transformers' rotate_half convention) and grouped-query heads, a SwiGLU MLP, a final RMSNorm, and a head that is
 * the embedding only when tie_word_embeddings says so. No dropout. Same memory rule as {@link Gpt}: ops are called on
 * activations, never on weights.
 */
final class Llama extends HfDecoder {

    private final Parameter embedTokens; // (V, C)
    private final List<Layer> layers = new ArrayList<>();
    private final Parameter norm; // (C)
    private final Parameter lmHead; // (V, C), or null when tied to embedTokens
    private final float[] inverseFrequencies; // (hs/2): RoPE's theta^(-2i/hs)

    /** One block's parameters; biases are null where the architecture has none. */
    private record Layer(
            Parameter inputNorm, // (C)
            Parameter q, // (nh*hs, C)
            Parameter qBias, // (nh*hs)
            Parameter k, // (nkv*hs, C)
            Parameter kBias, // (nkv*hs)
            Parameter v, // (nkv*hs, C)
            Parameter vBias, // (nkv*hs)
            Parameter o, // (C, nh*hs)
            Parameter oBias, // (C)
            Parameter postAttentionNorm, // (C)
            Parameter gate, // (I, C)
            Parameter up, // (I, C)
            Parameter down) {} // (C, I)

    Llama(HfConfig config) {
        super(config);
        long c = config.hiddenSize(), hs = config.headDim(), inner = config.intermediateSize();
        long qWidth = config.heads() * hs, kvWidth = config.kvHeads() * hs;
        embedTokens = parameter("model.embed_tokens.weight", Parameter.Type.WEIGHT, config.vocabSize(), c);
        for (int i = 0; i < config.layers(); i++) {
            String p = "model.layers." + i + ".";
            String attn = p + "self_attn.";
            layers.add(new Layer(
                    parameter(p + "input_layernorm.weight", Parameter.Type.GAMMA, c),
                    parameter(attn + "q_proj.weight", Parameter.Type.WEIGHT, qWidth, c),
                    config.qkvBias() ? parameter(attn + "q_proj.bias", Parameter.Type.BIAS, qWidth) : null,
                    parameter(attn + "k_proj.weight", Parameter.Type.WEIGHT, kvWidth, c),
                    config.qkvBias() ? parameter(attn + "k_proj.bias", Parameter.Type.BIAS, kvWidth) : null,
                    parameter(attn + "v_proj.weight", Parameter.Type.WEIGHT, kvWidth, c),
                    config.qkvBias() ? parameter(attn + "v_proj.bias", Parameter.Type.BIAS, kvWidth) : null,
                    parameter(attn + "o_proj.weight", Parameter.Type.WEIGHT, c, qWidth),
                    config.outputBias() ? parameter(attn + "o_proj.bias", Parameter.Type.BIAS, c) : null,
                    parameter(p + "post_attention_layernorm.weight", Parameter.Type.GAMMA, c),
                    parameter(p + "mlp.gate_proj.weight", Parameter.Type.WEIGHT, inner, c),
                    parameter(p + "mlp.up_proj.weight", Parameter.Type.WEIGHT, inner, c),
                    parameter(p + "mlp.down_proj.weight", Parameter.Type.WEIGHT, c, inner)));
        }
        norm = parameter("model.norm.weight", Parameter.Type.GAMMA, c);
        lmHead = config.tieWordEmbeddings()
                ? null
                : parameter("lm_head.weight", Parameter.Type.WEIGHT, config.vocabSize(), c);
        inverseFrequencies = new float[(int) hs / 2];
        for (int i = 0; i < inverseFrequencies.length; i++)
            inverseFrequencies[i] = (float) (1 / Math.pow(config.ropeTheta(), 2.0 * i / hs));
    }

    @Override
    String architecture() {
        return config.modelType().equals(HfConfig.QWEN2) ? "Qwen2ForCausalLM" : "LlamaForCausalLM";
    }

    @Override
    String canonicalName(String stored) {
        return stored;
    }

    /** The RoPE frequencies older transformers saved, and a head a tied config ignores. */
    @Override
    boolean ignorable(String name) {
        return name.endsWith(".rotary_emb.inv_freq") || (config.tieWordEmbeddings() && name.equals("lm_head.weight"));
    }

    /** (B, T) int64 token ids -> (B, T, V) next-token logits. */
    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(decode(ps, inputs.singletonOrThrow(), null, false, training));
    }

    @Override
    public NDArray nextLogits(ParameterStore ps, NDArray ids, KvCache cache) {
        return decode(ps, ids, cache, true, false).squeeze(1); // (B, V)
    }

    /**
     * (B, T) ids -> (B, T, V) logits; with a cache, the ids follow its positions (RoPE rotates by the absolute
     * position); with {@code lastOnly}, only the last position's logits (B, 1, V) are computed.
     */
    private NDArray decode(ParameterStore ps, NDArray idx, KvCache cache, boolean lastOnly, boolean training) {
        long t = idx.getShape().get(1);
        int past = cache == null ? 0 : cache.positions();
        NDManager step = idx.getManager();
        NDArray tokens = value(ps, embedTokens, idx, training);
        NDArray x = Gpt.embed(idx, tokens); // (B, T, C)
        // RoPE angles: position p, frequency i -> p * theta^(-2i/hs), the half of each head they rotate repeated.
        NDArray angles = step.arange(past, past + (int) t, 1, DataType.FLOAT32)
                .reshape(t, 1)
                .mul(step.create(inverseFrequencies).reshape(1, inverseFrequencies.length)); // (T, hs/2)
        angles = angles.concat(angles, 1); // (T, hs)
        NDArray cos = angles.cos(), sin = angles.sin(); // (T, hs)
        NDArray mask = Gpt.causalMask(step, t, past); // (T, past + T)
        for (int i = 0; i < layers.size(); i++) {
            Layer layer = layers.get(i);
            NDArray normed = rmsNorm(ps, x, layer.inputNorm(), training);
            x = x.add(attention(ps, layer, normed, cos, sin, mask, cache, i, training));
            x = x.add(mlp(ps, layer, rmsNorm(ps, x, layer.postAttentionNorm(), training), training));
        }
        if (cache != null) cache.advance((int) t);
        if (lastOnly) x = Gpt.lastPosition(x); // (B, 1, C)
        x = rmsNorm(ps, x, norm, training);
        return Linear.linear(x, lmHead == null ? tokens : value(ps, lmHead, idx, training))
                .singletonOrThrow(); // (B, T, V)
    }

    /**
     * Causal self-attention where each of the nkv key/value heads serves nh/nkv query heads (query head h reads kv
     * head h / (nh/nkv), as transformers' repeat_kv pairs them): queries are grouped (B, nkv, rep, T, hs) and keys
     * (B, nkv, 1, T, hs) broadcast over the group instead of being copied. With a cache, layer {@code i}'s keys and
     * values (the nkv heads, already rotated) join the cached ones.
     */
    private NDArray attention(
            ParameterStore ps,
            Layer layer,
            NDArray x,
            NDArray cos,
            NDArray sin,
            NDArray mask,
            KvCache cache,
            int i,
            boolean training) {
        long b = x.getShape().get(0), t = x.getShape().get(1);
        long kv = config.kvHeads(), rep = config.heads() / kv, hs = config.headDim();
        NDArray q = project(ps, x, layer.q(), layer.qBias(), training)
                .reshape(b, t, kv, rep, hs)
                .transpose(0, 2, 3, 1, 4); // (B, nkv, rep, T, hs)
        NDArray k = project(ps, x, layer.k(), layer.kBias(), training)
                .reshape(b, t, kv, 1, hs)
                .transpose(0, 2, 3, 1, 4); // (B, nkv, 1, T, hs)
        NDArray values = project(ps, x, layer.v(), layer.vBias(), training)
                .reshape(b, t, kv, 1, hs)
                .transpose(0, 2, 3, 1, 4); // (B, nkv, 1, T, hs)
        q = rotate(q, cos, sin).mul(Gpt.scalar(x.getManager(), 1.0 / Math.sqrt(hs)));
        NDArray keys = rotate(k, cos, sin).transpose(0, 1, 2, 4, 3); // (B, nkv, 1, hs, T)
        if (cache != null) {
            NDList all = cache.append(i, keys, values);
            keys = all.get(0); // (B, nkv, 1, hs, past + T)
            values = all.get(1); // (B, nkv, 1, past + T, hs)
        }
        NDArray att = q.matMul(keys).add(mask).softmax(-1); // (B, nkv, rep, T, past + T)
        NDArray y = att.matMul(values) // (B, nkv, rep, T, hs)
                .transpose(0, 3, 1, 2, 4)
                .reshape(b, t, config.heads() * hs); // (B, T, nh*hs): heads side by side, in q_proj's order
        return project(ps, y, layer.o(), layer.oBias(), training); // (B, T, C)
    }

    /** RoPE: x cos + rotate_half(x) sin, where rotate_half(x1, x2) = (-x2, x1) over the two halves of a head. */
    private static NDArray rotate(NDArray x, NDArray cos, NDArray sin) {
        NDList halves = x.split(2, 4); // 2 x (..., T, hs/2)
        NDArray rotated = halves.get(1).neg().concat(halves.get(0), 4); // (..., T, hs)
        return x.mul(cos).add(rotated.mul(sin));
    }

    /** SwiGLU: down(silu(gate(x)) * up(x)), C -> I -> C. */
    private NDArray mlp(ParameterStore ps, Layer layer, NDArray x, boolean training) {
        NDArray gate = project(ps, x, layer.gate(), null, training); // (B, T, I)
        NDArray silu = gate.mul(Activation.sigmoid(gate));
        return project(ps, silu.mul(project(ps, x, layer.up(), null, training)), layer.down(), null, training);
    }

    /** x / sqrt(mean(x^2) + eps) * weight over the last axis. */
    private NDArray rmsNorm(ParameterStore ps, NDArray x, Parameter weight, boolean training) {
        NDArray meanSquare = x.square().mean(new int[] {2}, true); // (B, T, 1)
        NDArray rms =
                meanSquare.add(Gpt.scalar(x.getManager(), config.normEps())).sqrt();
        return x.div(rms).mul(value(ps, weight, x, training));
    }

    private static NDArray project(ParameterStore ps, NDArray x, Parameter weight, Parameter bias, boolean training) {
        return (bias == null
                        ? Linear.linear(x, value(ps, weight, x, training))
                        : Linear.linear(x, value(ps, weight, x, training), value(ps, bias, x, training)))
                .singletonOrThrow();
    }
}
