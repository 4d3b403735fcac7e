package ipt.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.optimizer.Optimizer;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.Map;
import java.util.TreeMap;

/**
 * AdamW (decoupled weight decay) whose state is keyed by parameter path, so it can be saved and
 * restored: DJL's own Adam keys its private moments by random parameter ids and cannot be saved.
 * Weight decay applies only to 2-D weights (matrices, embeddings), never to biases or LayerNorm.
 */
final class AdamW extends Optimizer {

    private static final int FORMAT = 1;

    private final TrainConfig config;
    private final Map<String, String> pathById;
    private final Map<String, Moments> moments = new TreeMap<>();
    private float lr;
    private Map<String, NDArray> anchors = Map.of();
    private float pull;

    /** First and second moment and the number of updates that made them. */
    private record Moments(NDArray mean, NDArray variance, int updates) {}

    AdamW(TrainConfig config, Map<String, String> pathById) {
        super(new Builder());
        this.config = config;
        this.pathById = Map.copyOf(pathById);
    }

    /** Sets the next step's learning rate and the global gradient rescale that clips its norm. */
    void prepare(float lr, float gradientScale) {
        this.lr = lr;
        this.rescaleGrad = gradientScale;
    }

    /** Replaces the weights updates are pulled toward (closing the old ones) and the pull's strength. */
    void pullTowards(Map<String, NDArray> weights, float strength) {
        anchors.values().forEach(NDArray::close);
        anchors = Map.copyOf(weights);
        pull = strength;
    }

    /** Decay shrinks matrices and embeddings toward zero; biases and LayerNorm gains keep their scale. */
    static boolean decays(NDArray weight) {
        return weight.getShape().dimension() == 2;
    }

    @Override
    public void update(String parameterId, NDArray weight, NDArray grad) {
        String path = pathById.get(parameterId);
        Moments state = moments.get(path);
        if (state == null) {
            state = new Moments(weight.zerosLike(), weight.zerosLike(), 0); // owned by the model's manager
        }
        int t = state.updates() + 1;
        float biasCorrectedLr =
                (float) (lr * Math.sqrt(1 - Math.pow(config.beta2(), t)) / (1 - Math.pow(config.beta1(), t)));
        // In place: w -= lr*wd*w; m,v updated; w -= lr_t * m / (sqrt(v) + eps); then the grad is zeroed.
        // clipGrad -1: the engine's clip is element-wise; clipping is by global norm through rescaleGrad.
        weight.getNDArrayInternal()
                .adamUpdate(
                        new NDList(weight, grad, state.mean(), state.variance()),
                        new NDList(weight),
                        lr,
                        biasCorrectedLr,
                        decays(weight) ? config.weightDecay() : 0f,
                        rescaleGrad,
                        -1f,
                        config.beta1(),
                        config.beta2(),
                        config.eps(),
                        false,
                        true);
        moments.put(path, new Moments(state.mean(), state.variance(), t));
        NDArray anchor = anchors.get(path);
        if (anchor != null && pull > 0) {
            try (NDArray toward = anchor.sub(weight)) { // a temporary, closed here: the anchor's manager is the model's
                weight.addi(toward.muli(lr * pull));
            }
        }
    }

    void save(DataOutputStream out) throws IOException {
        out.writeInt(FORMAT);
        out.writeInt(moments.size());
        for (Map.Entry<String, Moments> entry : moments.entrySet()) {
            out.writeUTF(entry.getKey());
            out.writeInt(entry.getValue().updates());
            NDArray mean = entry.getValue().mean();
            try (NDManager copies = mean.getManager().newSubManager()) { // GPU moments are written from CPU copies
                new NDList(
                                ComputeDevice.onCpu(mean, copies),
                                ComputeDevice.onCpu(entry.getValue().variance(), copies))
                        .encode(out);
            }
        }
    }

    /** Replaces the state with one saved by {@link #save}; arrays are created in the model's manager. */
    void load(DataInputStream in, NDManager manager) throws IOException {
        int format = in.readInt();
        if (format != FORMAT) {
            throw new IOException("optimizer state format " + format + ", expected " + FORMAT);
        }
        int count = in.readInt();
        Map<String, Moments> loaded = new TreeMap<>();
        for (int i = 0; i < count; i++) {
            String path = in.readUTF();
            if (!pathById.containsValue(path)) {
                throw new IOException("optimizer state for unknown parameter " + path);
            }
            int updates = in.readInt();
            NDList pair = NDList.decode(manager, in);
            loaded.put(path, new Moments(pair.get(0), pair.get(1), updates));
        }
        moments.clear();
        moments.putAll(loaded);
    }

    private static final class Builder extends OptimizerBuilder<Builder> {
        @Override
        protected Builder self() {
            return this;
        }
    }
}
