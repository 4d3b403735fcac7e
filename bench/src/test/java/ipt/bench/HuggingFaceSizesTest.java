package ipt.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.Shape;
import ipt.model.RandomHuggingFace;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** HuggingFaceSizes cannot rot: its two shapes are what they claim, and every measurement runs at tiny sizes. */
class HuggingFaceSizesTest {

    @Test
    void theBenchmarkedShapesAreGpt2SmallAndAGroupedQueryLlama() throws Exception {
        Map<String, Shape> gpt2 = RandomHuggingFace.tensorShapes(
                HuggingFaceSizes.ModelShape.gpt2Small().config());
        assertEquals(124_439_808L, total(gpt2), "GPT-2 small's published parameter count");
        assertEquals(new Shape(50257, 768), gpt2.get("transformer.wte.weight"));

        Map<String, Shape> llama = RandomHuggingFace.tensorShapes(
                HuggingFaceSizes.ModelShape.llamaSmall().config());
        // 2 × 32000·512 (embedding, untied head) + 8 × (2·512² + 2·512·128 + 3·512·1408 + 2·512) + 512
        assertEquals(55_321_088L, total(llama));
        assertEquals(new Shape(128, 512), llama.get("model.layers.0.self_attn.k_proj.weight"), "2 kv heads of 64");
        assertEquals(new Shape(512, 512), llama.get("model.layers.0.self_attn.q_proj.weight"), "8 query heads of 64");
    }

    @Test
    void everyMeasurementRunsOnTinyModelsOfBothFamilies(@TempDir Path work) throws Exception {
        HuggingFaceSizes.Plan plan = new HuggingFaceSizes.Plan(2, 1, 3, 4);
        for (HuggingFaceSizes.ModelShape shape : List.of(
                HuggingFaceSizes.ModelShape.gpt2("tiny-gpt2", 2, 32, 4, 300, 256),
                HuggingFaceSizes.ModelShape.llama("tiny-llama", 2, 32, 4, 2, 64, 300))) {
            HuggingFaceSizes.Figures f = HuggingFaceSizes.measure(shape, plan, work.resolve(shape.name()));
            assertEquals(total(RandomHuggingFace.tensorShapes(shape.config())), f.parameters(), shape.name());
            assertEquals(2, f.trainTokensPerSecond().size());
            for (double mfu : f.mfu()) assertTrue(mfu > 0 && mfu < 1, shape.name() + " MFU " + mfu);
            for (double mfu : f.mfuCpu()) assertTrue(mfu > 0 && mfu < 1, shape.name() + " MFU by CPU time " + mfu);
            assertTrue(f.checkpointGb() > 4.0 * f.parameters() * 3 / 1e9, "weights and two AdamW moments written");
            assertEquals(2, f.loadSeconds().size());
            assertTrue(f.generateTokensPerSecond().stream().allMatch(rate -> rate > 0));
            assertTrue(f.peakRssKb() >= f.trainingPeakRssKb() && f.trainingPeakRssKb() > 0);
        }
    }

    private static long total(Map<String, Shape> shapes) {
        return shapes.values().stream().mapToLong(Shape::size).sum();
    }
}
