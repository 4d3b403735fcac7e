package ipt.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * What the Hugging Face architectures ({@link Gpt2}, {@link Llama}) share: every parameter is a direct parameter named
 * as transformers names it ({@code model.layers.0.self_attn.q_proj.weight}), so weights load and save by name, the
 * optimizer keys its state by those names, and a checkpoint that does not fit config.json is refused tensor by tensor.
 */
abstract class HfDecoder extends AbstractBlock implements CachedDecoder {

    final HfConfig config;
    /** Held as DJL's Linear holds weights, (out, in), but stored (in, out): GPT-2's Conv1D. */
    private final Set<String> storedTransposed = new HashSet<>();

    HfDecoder(HfConfig config) {
        super((byte) 1);
        this.config = config;
    }

    /** The architecture config.json names, without weights yet. */
    static HfDecoder of(HfConfig config) {
        return config.modelType().equals(HfConfig.GPT2) ? new Gpt2(config) : new Llama(config);
    }

    /** The transformers class built. */
    abstract String architecture();

    /** The name a checkpoint gives a parameter when it differs from transformers' current one, else the same name. */
    abstract String canonicalName(String stored);

    /** A tensor some checkpoints hold that is not a parameter here (buffers older transformers saved, a tied head). */
    abstract boolean ignorable(String name);

    Parameter parameter(String name, Parameter.Type type, long... shape) {
        return addParameter(Parameter.builder()
                .setName(name)
                .setType(type)
                .optShape(new Shape(shape))
                .build());
    }

    /** GPT-2's Conv1D weight: a checkpoint stores it (in, out); held (out, in) so that Linear.linear computes it. */
    Parameter conv1D(String name, long in, long out) {
        storedTransposed.add(name);
        return parameter(name, Parameter.Type.WEIGHT, out, in);
    }

    /** The parameter's array for this forward pass. */
    static NDArray value(ParameterStore ps, Parameter parameter, NDArray like, boolean training) {
        return ps.getValue(parameter, like.getDevice(), training);
    }

    /** Each parameter's shape as a checkpoint stores it. */
    SortedMap<String, Shape> checkpointShapes() {
        SortedMap<String, Shape> shapes = new TreeMap<>();
        for (Pair<String, Parameter> named : getDirectParameters()) {
            Shape held = named.getValue().getShape();
            shapes.put(
                    named.getKey(),
                    storedTransposed.contains(named.getKey()) ? new Shape(held.get(1), held.get(0)) : held);
        }
        return shapes;
    }

    /**
     * Makes the checkpoint's tensors this block's weights (created in {@code manager}, taken by {@code initialize}),
     * after refusing a checkpoint with a tensor missing, one too many, or one whose shape config.json contradicts.
     */
    void load(Map<String, SafeTensors.Entry> checkpoint, NDManager manager) throws IOException {
        for (Map.Entry<String, NDArray> named : held(checkpoint, manager).entrySet()) {
            NDArray weight = named.getValue();
            getDirectParameters().get(named.getKey()).setInitializer((m, shape, type) -> weight);
        }
    }

    /**
     * The checkpoint's tensors by parameter name, laid out as this block holds them and created in {@code manager},
     * after refusing a checkpoint with a tensor missing, one too many, or one whose shape config.json contradicts.
     */
    SortedMap<String, NDArray> held(Map<String, SafeTensors.Entry> checkpoint, NDManager manager) throws IOException {
        SortedMap<String, Shape> expected = checkpointShapes();
        Map<String, SafeTensors.Entry> byName = new TreeMap<>();
        List<String> extra = new ArrayList<>();
        for (SafeTensors.Entry entry : checkpoint.values()) {
            String name = canonicalName(entry.name());
            if (expected.containsKey(name)) byName.put(name, entry);
            else if (!ignorable(name)) extra.add(entry.name());
        }
        if (!extra.isEmpty())
            throw new IOException("the checkpoint holds tensors that are not parameters of " + architecture()
                    + " with this config.json: " + extra);
        for (Map.Entry<String, Shape> want : expected.entrySet()) {
            SafeTensors.Entry entry = byName.get(want.getKey());
            if (entry == null)
                throw new IOException(
                        "the checkpoint lacks tensor " + want.getKey() + " (expected shape " + want.getValue() + ")");
            if (!entry.shape().equals(want.getValue()))
                throw new IOException("tensor " + entry.name() + " has shape " + entry.shape() + " in the checkpoint, "
                        + "config.json implies " + want.getValue());
        }
        SortedMap<String, NDArray> held = new TreeMap<>();
        for (Map.Entry<String, SafeTensors.Entry> named : byName.entrySet()) {
            NDArray weight;
            try (NDManager reading = manager.newSubManager()) {
                NDArray stored = SafeTensors.read(reading, named.getValue());
                // A contiguous copy the engine owns, laid out as a Linear weight is: the array read is closed with
                // this manager, so a view of it (flatten may return one) would read freed memory.
                weight = storedTransposed.contains(named.getKey())
                        ? stored.transpose()
                                .flatten()
                                .duplicate()
                                .reshape(
                                        stored.getShape().get(1),
                                        stored.getShape().get(0))
                        : stored;
                weight.attach(manager);
            }
            held.put(named.getKey(), weight);
        }
        return held;
    }

    /**
     * {@code held} (parameter name -> array laid out as this block holds it) as a checkpoint stores it: transposed
     * views, where needed, are created in {@code manager}; the others are the arrays themselves.
     */
    SortedMap<String, NDArray> checkpointTensors(Map<String, NDArray> held, NDManager manager) {
        SortedMap<String, Shape> shapes = checkpointShapes();
        if (!held.keySet().equals(shapes.keySet()))
            throw new IllegalArgumentException("tensors " + held.keySet() + " for the parameters " + shapes.keySet());
        SortedMap<String, NDArray> stored = new TreeMap<>();
        for (Map.Entry<String, NDArray> named : held.entrySet()) {
            NDArray array = named.getValue();
            if (storedTransposed.contains(named.getKey())) {
                array = array.transpose();
                array.attach(manager);
            }
            if (!array.getShape().equals(shapes.get(named.getKey())))
                throw new IllegalArgumentException(
                        named.getKey() + " is " + array.getShape() + ", expected " + shapes.get(named.getKey()));
            stored.put(named.getKey(), array);
        }
        return stored;
    }

    /** This block's own weights by name. */
    Map<String, NDArray> weights() {
        Map<String, NDArray> weights = new TreeMap<>();
        for (Pair<String, Parameter> named : getDirectParameters())
            weights.put(named.getKey(), named.getValue().getArray());
        return weights;
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {new Shape(inputShapes[0].get(0), inputShapes[0].get(1), config.vocabSize())};
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        // No child blocks: every parameter is this block's own.
    }
}
