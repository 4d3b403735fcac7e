package ipt.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AdamWTest {

    private static final TrainConfig CONFIG = new TrainConfig(1e-3f, 1e-4f, 0, 0.1f, 0.9f, 0.95f, 1e-8f, 1f, 1);

    @Test
    void weightDecayShrinksOnlyMatrices() {
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            NDArray matrix = manager.ones(new Shape(2, 3));
            NDArray vector = manager.ones(new Shape(3));
            AdamW adamW = new AdamW(CONFIG, Map.of("id-m", "h0_qkv_weight", "id-v", "h0_qkv_bias"));
            adamW.prepare(0.5f, 1f);
            // A zero gradient leaves Adam's own step at zero: only decay can move the weights.
            adamW.update("id-m", matrix, matrix.zerosLike());
            adamW.update("id-v", vector, vector.zerosLike());
            assertArrayEquals(new float[] {0.95f, 0.95f, 0.95f, 0.95f, 0.95f, 0.95f}, matrix.toFloatArray(), 1e-7f);
            assertArrayEquals(new float[] {1f, 1f, 1f}, vector.toFloatArray());
        }
    }

    @Test
    void stateRoundTripsByPath() throws Exception {
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            NDArray a = manager.create(new float[] {1, 2, 3, 4}, new Shape(2, 2));
            NDArray b = a.duplicate();
            AdamW first = new AdamW(CONFIG, Map.of("random-id-1", "w"));
            first.prepare(0.01f, 1f);
            first.update("random-id-1", a, manager.create(new float[] {0.1f, -0.2f, 0.3f, -0.4f}, new Shape(2, 2)));
            ByteArrayOutputStream saved = new ByteArrayOutputStream();
            first.save(new DataOutputStream(saved));

            // Same path under a different DJL id, as after a reload.
            AdamW second = new AdamW(CONFIG, Map.of("random-id-2", "w"));
            second.load(new DataInputStream(new ByteArrayInputStream(saved.toByteArray())), manager);
            NDArray grad = manager.create(new float[] {0.5f, 0.5f, -0.5f, 0.5f}, new Shape(2, 2));
            first.prepare(0.01f, 1f);
            second.prepare(0.01f, 1f);
            b.set(a.toFloatArray());
            first.update("random-id-1", a, grad);
            second.update("random-id-2", b, grad);
            assertArrayEquals(a.toFloatArray(), b.toFloatArray());
        }
    }
}
