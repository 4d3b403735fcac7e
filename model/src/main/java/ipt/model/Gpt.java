package ipt.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.util.Pair;
import ai.djl.util.PairList;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * A GPT-2 style decoder-only transformer (after nanoGPT), the whole model in this file:
 * token + learned position embeddings, nLayers pre-LayerNorm blocks of causal self-attention and a
 * 4x GELU MLP, a final LayerNorm and an LM head tied to the token embedding. No dropout, so a resumed
 * run repeats an uninterrupted one exactly.
 *
 * <p>Memory rule: a DJL op's result belongs to the manager of the array it is called on, so every op
 * here is called on the step's activations ({@code x.add(w)}, {@code Linear.linear(x, w)}), never on a
 * weight; otherwise each step's intermediates would pile up in the model's manager.
 */
final class Gpt extends AbstractBlock implements CachedDecoder {

    private final GptConfig config;
    private final Parameter tokenEmbedding; // (V, C); also the LM head
    private final Parameter positionEmbedding; // (contextLength, C)
    private final List<TransformerBlock> blocks = new ArrayList<>();
    private final LayerNorm lnF;

    Gpt(GptConfig config) {
        super((byte) 1);
        this.config = config;
        tokenEmbedding = addParameter(weight("wte", new Shape(config.vocabSize(), config.dModel())));
        positionEmbedding = addParameter(weight("wpe", new Shape(config.contextLength(), config.dModel())));
        for (int i = 0; i < config.nLayers(); i++) {
            blocks.add(addChildBlock("h" + i, new TransformerBlock(config)));
        }
        lnF = addChildBlock("ln_f", layerNorm());
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
        if (past + t > config.contextLength()) {
            throw new IllegalArgumentException(
                    "sequence of " + (past + t) + " tokens exceeds context " + config.contextLength());
        }
        NDArray wte = ps.getValue(tokenEmbedding, idx.getDevice(), training);
        NDArray pos = idx.getManager().arange(past, past + (int) t, 1, DataType.INT64); // (T): absolute positions
        NDArray x =
                embed(idx, wte).add(embed(pos, ps.getValue(positionEmbedding, idx.getDevice(), training))); // (B, T, C)
        for (int i = 0; i < blocks.size(); i++) {
            x = blocks.get(i).decode(ps, x, cache, i, training);
        }
        if (cache != null) cache.advance((int) t);
        if (lastOnly) x = lastPosition(x); // (B, 1, C)
        x = apply(lnF, ps, x, training);
        return Linear.linear(x, wte).singletonOrThrow(); // (B, T, V)
    }

    /** (B, T, C) -> (B, 1, C): the last position, the only one whose logits a cached step samples from. */
    static NDArray lastPosition(NDArray x) {
        return x.get(new NDIndex(":, {}:", x.getShape().get(1) - 1));
    }

    /**
     * The weights under the names transformers' GPT2LMHeadModel gives them, laid out as DJL holds them (a Linear's
     * weight (out, in)): how ipt's GPT exports as GPT-2, whose blocks compute what these do.
     */
    Map<String, NDArray> gpt2Weights() {
        Map<String, NDArray> weights = new TreeMap<>();
        for (Map.Entry<String, Parameter> named : gpt2Parameters().entrySet())
            weights.put(named.getKey(), named.getValue().getArray());
        return weights;
    }

    /**
     * Makes {@code weights} (by GPT-2 name, laid out as {@link #gpt2Weights} gives them) this GPT's initial weights,
     * taken by {@code initialize}: how ipt's GPT comes back from its GPT-2 export with the same parameters.
     */
    void useGpt2Weights(Map<String, NDArray> weights) {
        Map<String, Parameter> parameters = gpt2Parameters();
        if (!weights.keySet().equals(parameters.keySet()))
            throw new IllegalArgumentException("tensors " + weights.keySet() + " for " + parameters.keySet());
        for (Map.Entry<String, Parameter> named : parameters.entrySet()) {
            NDArray weight = weights.get(named.getKey());
            named.getValue().setInitializer((m, shape, type) -> weight);
        }
    }

    private Map<String, Parameter> gpt2Parameters() {
        Map<String, Parameter> parameters = new TreeMap<>();
        parameters.put("transformer.wte.weight", tokenEmbedding);
        parameters.put("transformer.wpe.weight", positionEmbedding);
        for (int i = 0; i < blocks.size(); i++) {
            TransformerBlock block = blocks.get(i);
            String h = "transformer.h." + i + ".";
            putWeightAndBias(parameters, h + "ln_1", block.ln1);
            putWeightAndBias(parameters, h + "attn.c_attn", block.attn.qkv);
            putWeightAndBias(parameters, h + "attn.c_proj", block.attn.proj);
            putWeightAndBias(parameters, h + "ln_2", block.ln2);
            putWeightAndBias(parameters, h + "mlp.c_fc", block.mlp.fc);
            putWeightAndBias(parameters, h + "mlp.c_proj", block.mlp.proj);
        }
        putWeightAndBias(parameters, "transformer.ln_f", lnF);
        return parameters;
    }

    /** A Linear's weight and bias, or a LayerNorm's gamma and beta (their parameters in that order). */
    private static void putWeightAndBias(Map<String, Parameter> parameters, String name, Block block) {
        parameters.put(name + ".weight", block.getDirectParameters().valueAt(0));
        parameters.put(name + ".bias", block.getDirectParameters().valueAt(1));
    }

    /** Per-token cross-entropy in nats: (B, T, V) logits and (B, T) int64 targets -> (B, T). */
    static NDArray tokenLosses(NDArray logits, NDArray targets) {
        return logits.logSoftmax(-1)
                .gather(targets.expandDims(-1), -1)
                .squeeze(-1)
                .neg();
    }

    /**
     * Gives every parameter an initializer drawn from (seed, parameter path): deterministic without the
     * engine's global RNG, which other models created concurrently in the JVM would also consume.
     */
    void seedInitializers(long seed) {
        // GPT-2: residual projections scaled by 1/sqrt(2 nLayers) so the residual stream's variance stays put.
        double residualStd = 0.02 / Math.sqrt(2.0 * config.nLayers());
        for (Pair<String, Parameter> named : getParameters()) {
            String path = named.getKey();
            Parameter parameter = named.getValue();
            parameter.setInitializer(
                    switch (parameter.getType()) {
                        case GAMMA -> Initializer.ONES;
                        case BETA, BIAS -> Initializer.ZEROS;
                        default -> normal(seed, path, path.endsWith("proj_weight") ? residualStd : 0.02);
                    });
        }
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape hidden = new Shape(inputShapes[0].get(0), inputShapes[0].get(1), config.dModel()); // (B, T, C)
        for (TransformerBlock block : blocks) {
            block.initialize(manager, dataType, hidden);
        }
        lnF.initialize(manager, dataType, hidden);
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {new Shape(inputShapes[0].get(0), inputShapes[0].get(1), config.vocabSize())};
    }

    /** x = x + attn(ln1(x)); x = x + mlp(ln2(x)). */
    static final class TransformerBlock extends AbstractBlock {
        private final LayerNorm ln1;
        private final CausalSelfAttention attn;
        private final LayerNorm ln2;
        private final Mlp mlp;

        TransformerBlock(GptConfig config) {
            super((byte) 1);
            ln1 = addChildBlock("ln1", layerNorm());
            attn = addChildBlock("attn", new CausalSelfAttention(config));
            ln2 = addChildBlock("ln2", layerNorm());
            mlp = addChildBlock("mlp", new Mlp(config));
        }

        @Override
        protected NDList forwardInternal(
                ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
            return new NDList(decode(ps, inputs.singletonOrThrow(), null, 0, training));
        }

        /** (B, T, C) -> (B, T, C), as block {@code layer} of the cache when there is one. */
        NDArray decode(ParameterStore ps, NDArray x, KvCache cache, int layer, boolean training) {
            x = x.add(attn.attend(ps, apply(ln1, ps, x, training), cache, layer, training));
            return x.add(apply(mlp, ps, apply(ln2, ps, x, training), training));
        }

        @Override
        protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
            for (Block child : List.of(ln1, attn, ln2, mlp)) {
                child.initialize(manager, dataType, inputShapes);
            }
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return inputShapes;
        }
    }

    /** Multi-head self-attention where a position sees only itself and earlier positions. */
    static final class CausalSelfAttention extends AbstractBlock {
        private final int nHeads;
        private final Linear qkv;
        private final Linear proj;

        CausalSelfAttention(GptConfig config) {
            super((byte) 1);
            nHeads = config.nHeads();
            qkv = addChildBlock(
                    "qkv", Linear.builder().setUnits(3L * config.dModel()).build());
            proj = addChildBlock(
                    "proj", Linear.builder().setUnits(config.dModel()).build());
        }

        @Override
        protected NDList forwardInternal(
                ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
            return new NDList(attend(ps, inputs.singletonOrThrow(), null, 0, training));
        }

        /**
         * (B, T, C) -> (B, T, C). With a cache, x holds the positions after the cached ones: their keys and values
         * join layer {@code layer}'s cached ones, and their queries attend to all of them.
         */
        NDArray attend(ParameterStore ps, NDArray x, KvCache cache, int layer, boolean training) {
            long b = x.getShape().get(0),
                    t = x.getShape().get(1),
                    c = x.getShape().get(2);
            NDList qkvSplit = apply(qkv, ps, x, training).split(3, 2); // 3 x (B, T, C)
            // q takes the 1/sqrt(hs) scale: (T, hs) per head is a quarter of the (T, T) scores it would otherwise
            // scale.
            NDArray q = heads(qkvSplit.get(0), b, t, c)
                    .mul(scalar(x.getManager(), 1.0 / Math.sqrt(c / nHeads))); // (B, nh, T, hs)
            NDArray keys = heads(qkvSplit.get(1), b, t, c).transpose(0, 1, 3, 2); // (B, nh, hs, T)
            NDArray values = heads(qkvSplit.get(2), b, t, c); // (B, nh, T, hs)
            int past = 0;
            if (cache != null) {
                past = cache.positions();
                NDList all = cache.append(layer, keys, values);
                keys = all.get(0); // (B, nh, hs, past + T)
                values = all.get(1); // (B, nh, past + T, hs)
            }
            NDArray att = q.matMul(keys); // (B, nh, T, past + T)
            att = att.add(causalMask(x.getManager(), t, past)).softmax(-1);
            NDArray y = att.matMul(values).transpose(0, 2, 1, 3).reshape(b, t, c); // (B, T, C): heads side by side
            return apply(proj, ps, y, training);
        }

        private NDArray heads(NDArray x, long b, long t, long c) {
            return x.reshape(b, t, nHeads, c / nHeads).transpose(0, 2, 1, 3);
        }

        @Override
        protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
            qkv.initialize(manager, dataType, inputShapes);
            proj.initialize(manager, dataType, inputShapes);
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return inputShapes;
        }
    }

    /** Position-wise feed-forward: C -> 4C -> GELU -> C. */
    static final class Mlp extends AbstractBlock {
        private final Linear fc;
        private final Linear proj;

        Mlp(GptConfig config) {
            super((byte) 1);
            fc = addChildBlock(
                    "fc", Linear.builder().setUnits(4L * config.dModel()).build());
            proj = addChildBlock(
                    "proj", Linear.builder().setUnits(config.dModel()).build());
        }

        @Override
        protected NDList forwardInternal(
                ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
            NDArray h = Activation.gelu(apply(fc, ps, inputs.singletonOrThrow(), training)); // (B, T, 4C)
            return new NDList(apply(proj, ps, h, training)); // (B, T, C)
        }

        @Override
        protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
            Shape in = inputShapes[0];
            fc.initialize(manager, dataType, in);
            proj.initialize(manager, dataType, new Shape(in.get(0), in.get(1), 4 * in.get(2)));
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return inputShapes;
        }
    }

    private static NDArray apply(Block block, ParameterStore ps, NDArray x, boolean training) {
        return block.forward(ps, new NDList(x), training).singletonOrThrow();
    }

    /** (T, T) additive mask: 0 where key <= query, -1e9 above the diagonal (the engine has no tril). */
    static NDArray causalMask(NDManager manager, long t) {
        return causalMask(manager, t, 0);
    }

    /**
     * (T, past + T) additive mask for T queries at positions past.. over keys at positions 0..: 0 where key <= query,
     * -1e9 where the key comes after the query.
     */
    static NDArray causalMask(NDManager manager, long t, int past) {
        NDArray query = manager.arange(past, past + (int) t, 1, DataType.INT32);
        NDArray key = manager.arange(0, past + (int) t, 1, DataType.INT32);
        NDArray future = key.reshape(1, past + t).gt(query.reshape(t, 1)); // (T, past + T): key after query
        return future.toType(DataType.FLOAT32, false).mul(-1e9f);
    }

    /** Rows of the table picked by ids; the result belongs to the ids' (the step's) manager. */
    static NDArray embed(NDArray ids, NDArray table) {
        return ids.getNDArrayInternal()
                .embedding(ids, table, SparseFormat.DENSE)
                .singletonOrThrow();
    }

    /**
     * A 0-d array in storage PyTorch owns. DJL's {@code mul(Number)} puts the number in a Java direct buffer and
     * closes its array at once; autograd keeps the operand for the backward pass, which then reads freed memory
     * whenever a garbage collection falls between forward and backward.
     */
    static NDArray scalar(NDManager manager, double value) {
        return manager.full(new Shape(), (float) value);
    }

    private static LayerNorm layerNorm() {
        return LayerNorm.builder().axis(2).build(); // normalise over C of (B, T, C)
    }

    private static Parameter weight(String name, Shape shape) {
        return Parameter.builder()
                .setName(name)
                .setType(Parameter.Type.WEIGHT)
                .optShape(shape)
                .build();
    }

    private static Initializer normal(long seed, String path, double std) {
        return (manager, shape, dataType) -> {
            SplittableRandom random = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + path.hashCode());
            float[] values = new float[Math.toIntExact(shape.size())];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) (random.nextGaussian() * std);
            }
            return manager.create(values, shape);
        };
    }
}
