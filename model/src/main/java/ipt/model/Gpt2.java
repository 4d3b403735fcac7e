package ipt.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.ArrayList;
import java.util.List;

/**
 * transformers' GPT2LMHeadModel from its config.json: token + learned position embeddings, n_layer pre-LayerNorm
 * blocks of causal self-attention and a GELU MLP, a final LayerNorm, and a head tied to the token embedding unless
 * tie_word_embeddings is false. Every op is the one {@link Gpt} computes, in the same order, so ipt's GPT exported as
 * GPT-2 gives back the same logits bit for bit. No dropout. Same memory rule as {@link Gpt}: ops are called on
 * activations, never on weights.
 */
final class Gpt2 extends HfDecoder {

    private final Parameter wte; // (V, C)
    private final Parameter wpe; // (n_positions, C)
    private final List<Layer> layers = new ArrayList<>();
    private final Parameter lnFWeight; // (C)
    private final Parameter lnFBias; // (C)
    private final Parameter lmHead; // (V, C), or null when tied to wte

    /** One block's parameters. Conv1D weights are held (out, in), as DJL's Linear holds them. */
    private record Layer(
            Parameter ln1Weight,
            Parameter ln1Bias,
            Parameter attnWeight, // (3C, C): q, k, v stacked
            Parameter attnBias, // (3C)
            Parameter attnProjWeight, // (C, C)
            Parameter attnProjBias, // (C)
            Parameter ln2Weight,
            Parameter ln2Bias,
            Parameter fcWeight, // (n_inner, C)
            Parameter fcBias, // (n_inner)
            Parameter mlpProjWeight, // (C, n_inner)
            Parameter mlpProjBias) {} // (C)

    Gpt2(HfConfig config) {
        super(config);
        long c = config.hiddenSize(), inner = config.intermediateSize();
        wte = parameter("transformer.wte.weight", Parameter.Type.WEIGHT, config.vocabSize(), c);
        wpe = parameter("transformer.wpe.weight", Parameter.Type.WEIGHT, config.maxPositions(), c);
        for (int i = 0; i < config.layers(); i++) {
            String h = "transformer.h." + i + ".";
            layers.add(new Layer(
                    parameter(h + "ln_1.weight", Parameter.Type.GAMMA, c),
                    parameter(h + "ln_1.bias", Parameter.Type.BETA, c),
                    conv1D(h + "attn.c_attn.weight", c, 3 * c),
                    parameter(h + "attn.c_attn.bias", Parameter.Type.BIAS, 3 * c),
                    conv1D(h + "attn.c_proj.weight", c, c),
                    parameter(h + "attn.c_proj.bias", Parameter.Type.BIAS, c),
                    parameter(h + "ln_2.weight", Parameter.Type.GAMMA, c),
                    parameter(h + "ln_2.bias", Parameter.Type.BETA, c),
                    conv1D(h + "mlp.c_fc.weight", c, inner),
                    parameter(h + "mlp.c_fc.bias", Parameter.Type.BIAS, inner),
                    conv1D(h + "mlp.c_proj.weight", inner, c),
                    parameter(h + "mlp.c_proj.bias", Parameter.Type.BIAS, c)));
        }
        lnFWeight = parameter("transformer.ln_f.weight", Parameter.Type.GAMMA, c);
        lnFBias = parameter("transformer.ln_f.bias", Parameter.Type.BETA, c);
        lmHead = config.tieWordEmbeddings()
                ? null
                : parameter("lm_head.weight", Parameter.Type.WEIGHT, config.vocabSize(), c);
    }

    @Override
    String architecture() {
        return "GPT2LMHeadModel";
    }

    /** OpenAI's original files (and transformers' GPT2Model) name the weights without "transformer.". */
    @Override
    String canonicalName(String stored) {
        return stored.startsWith("transformer.") || stored.startsWith("lm_head.") ? stored : "transformer." + stored;
    }

    /** The causal-mask buffers older transformers saved, and a head a tied config ignores. */
    @Override
    boolean ignorable(String name) {
        return name.endsWith(".attn.bias")
                || name.endsWith(".attn.masked_bias")
                || (config.tieWordEmbeddings() && name.equals("lm_head.weight"));
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
     * (B, T) ids -> (B, T, V) logits; with a cache, the ids follow its positions; with {@code lastOnly}, only the last
     * position's logits (B, 1, V) are computed.
     */
    private NDArray decode(ParameterStore ps, NDArray idx, KvCache cache, boolean lastOnly, boolean training) {
        long t = idx.getShape().get(1);
        int past = cache == null ? 0 : cache.positions();
        if (past + t > config.maxPositions())
            throw new IllegalArgumentException(
                    "sequence of " + (past + t) + " tokens exceeds n_positions " + config.maxPositions());
        NDManager step = idx.getManager();
        NDArray tokens = value(ps, wte, idx, training);
        NDArray pos = step.arange(past, past + (int) t, 1, DataType.INT64); // (T): absolute positions
        NDArray x = Gpt.embed(idx, tokens).add(Gpt.embed(pos, value(ps, wpe, idx, training))); // (B, T, C)
        NDArray mask = Gpt.causalMask(step, t, past); // (T, past + T)
        for (int i = 0; i < layers.size(); i++) {
            Layer layer = layers.get(i);
            NDArray normed = layerNorm(ps, x, layer.ln1Weight(), layer.ln1Bias(), training);
            x = x.add(attention(ps, layer, normed, mask, cache, i, training));
            x = x.add(mlp(ps, layer, layerNorm(ps, x, layer.ln2Weight(), layer.ln2Bias(), training), training));
        }
        if (cache != null) cache.advance((int) t);
        if (lastOnly) x = Gpt.lastPosition(x); // (B, 1, C)
        x = layerNorm(ps, x, lnFWeight, lnFBias, training);
        return Linear.linear(x, lmHead == null ? tokens : value(ps, lmHead, idx, training))
                .singletonOrThrow(); // (B, T, V)
    }

    /**
     * Causal multi-head self-attention over (B, T, C); with a cache, over its positions and these, layer {@code i}'s
     * keys and values joining the cached ones.
     */
    private NDArray attention(
            ParameterStore ps, Layer layer, NDArray x, NDArray mask, KvCache cache, int i, boolean training) {
        long b = x.getShape().get(0), t = x.getShape().get(1), c = x.getShape().get(2);
        NDList qkv = Linear.linear(
                        x, value(ps, layer.attnWeight(), x, training), value(ps, layer.attnBias(), x, training))
                .singletonOrThrow()
                .split(3, 2); // 3 x (B, T, C)
        NDArray q = heads(qkv.get(0), b, t).mul(Gpt.scalar(x.getManager(), 1.0 / Math.sqrt(config.headDim())));
        NDArray keys = heads(qkv.get(1), b, t).transpose(0, 1, 3, 2); // (B, nh, hs, T)
        NDArray values = heads(qkv.get(2), b, t); // (B, nh, T, hs)
        if (cache != null) {
            NDList all = cache.append(i, keys, values);
            keys = all.get(0); // (B, nh, hs, past + T)
            values = all.get(1); // (B, nh, past + T, hs)
        }
        NDArray att = q.matMul(keys).add(mask).softmax(-1); // (B, nh, T, past + T)
        NDArray y = att.matMul(values).transpose(0, 2, 1, 3).reshape(b, t, c); // (B, T, C): heads side by side
        return Linear.linear(
                        y, value(ps, layer.attnProjWeight(), x, training), value(ps, layer.attnProjBias(), x, training))
                .singletonOrThrow();
    }

    /** (B, T, C) -> (B, nh, T, hs). */
    private NDArray heads(NDArray x, long b, long t) {
        return x.reshape(b, t, config.heads(), config.headDim()).transpose(0, 2, 1, 3);
    }

    /** C -> n_inner -> GELU -> C. */
    private NDArray mlp(ParameterStore ps, Layer layer, NDArray x, boolean training) {
        NDArray h = Linear.linear(x, value(ps, layer.fcWeight(), x, training), value(ps, layer.fcBias(), x, training))
                .singletonOrThrow(); // (B, T, n_inner)
        h = config.activation().equals("gelu") ? Activation.gelu(h) : geluTanh(h);
        return Linear.linear(
                        h, value(ps, layer.mlpProjWeight(), x, training), value(ps, layer.mlpProjBias(), x, training))
                .singletonOrThrow(); // (B, T, C)
    }

    /** gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), GPT-2's original approximation. */
    private static NDArray geluTanh(NDArray x) {
        NDManager m = x.getManager();
        NDArray inner = x.add(x.mul(x).mul(x).mul(Gpt.scalar(m, 0.044715))).mul(Gpt.scalar(m, Math.sqrt(2 / Math.PI)));
        return x.mul(inner.tanh().add(Gpt.scalar(m, 1))).mul(Gpt.scalar(m, 0.5));
    }

    private NDArray layerNorm(ParameterStore ps, NDArray x, Parameter gain, Parameter bias, boolean training) {
        return LayerNorm.layerNorm(
                        x,
                        new Shape(config.hiddenSize()),
                        value(ps, gain, x, training),
                        value(ps, bias, x, training),
                        (float) config.normEps())
                .singletonOrThrow();
    }
}
