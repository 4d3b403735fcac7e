package ipt.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.List;

/**
 * The keys and values of the positions decoded so far, per layer, so that each new token is one position's forward
 * pass ({@link CachedDecoder}). Inference only. Keys are held transposed, (B, nkv, hs, T), and values (B, nkv, T, hs)
 * (Llama adds a group axis of 1 before T): the key/value heads only, never the copies grouped-query attention reads.
 * The arrays live in the cache's own manager; growing a layer's arrays closes the previous ones, so the memory held is
 * that of the positions cached, not of the steps taken.
 */
final class KvCache implements AutoCloseable {

    private final NDManager manager;
    private final List<NDArray> keys = new ArrayList<>(); // per layer: (B, nkv, hs, T)
    private final List<NDArray> values = new ArrayList<>(); // per layer: (B, nkv, T, hs)
    private int positions;

    KvCache(NDManager parent) {
        manager = parent.newSubManager();
    }

    /** How many positions are cached: the absolute position of the next token. */
    int positions() {
        return positions;
    }

    /**
     * Appends layer {@code layer}'s keys (B, nkv, hs, t) and values (B, nkv, t, hs) of the new positions and returns
     * the layer's keys and values over every position, cached and new. The caller only passes the returned arrays to
     * ops called on its step's arrays, so no result of its step lands in this cache's manager.
     */
    NDList append(int layer, NDArray newKeys, NDArray newValues) {
        if (layer == keys.size()) {
            keys.add(null);
            values.add(null);
        }
        keys.set(layer, grow(keys.get(layer), newKeys, newKeys.getShape().dimension() - 1));
        values.set(
                layer, grow(values.get(layer), newValues, newValues.getShape().dimension() - 2));
        return new NDList(keys.get(layer), values.get(layer));
    }

    /** Counts the positions the last forward pass appended to every layer. */
    void advance(int t) {
        positions += t;
    }

    /** Forgets every position: the next forward pass starts at position 0. */
    void clear() {
        for (NDArray array : keys) array.close();
        for (NDArray array : values) array.close();
        keys.clear();
        values.clear();
        positions = 0;
    }

    private NDArray grow(NDArray cached, NDArray added, int axis) {
        NDArray grown = cached == null ? added.duplicate() : cached.concat(added, axis); // a copy the engine owns
        grown.attach(manager);
        if (cached != null) cached.close();
        return grown;
    }

    @Override
    public void close() {
        manager.close();
    }
}
