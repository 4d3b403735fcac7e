package ipt.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {

    @Test
    void halvesPythonWroteInTwoShardsReadAsTheirFloat32Values(@TempDir Path dir) throws Exception {
        HfFixtures.reference("halves", dir.toString());
        Map<String, SafeTensors.Entry> entries = SafeTensors.open(dir);
        assertEquals(SafeTensors.DType.F16, entries.get("half.f16").dtype());
        assertEquals(SafeTensors.DType.BF16, entries.get("brain.bf16").dtype());
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            assertArrayEquals(
                    SafeTensors.read(manager, entries.get("half.f32")).toFloatArray(),
                    SafeTensors.read(manager, entries.get("half.f16")).toFloatArray(),
                    "F16 widened exactly (signed zeros, subnormals, infinities)");
            assertArrayEquals(
                    SafeTensors.read(manager, entries.get("brain.f32")).toFloatArray(),
                    SafeTensors.read(manager, entries.get("brain.bf16")).toFloatArray(),
                    "BF16 widened exactly");
            assertEquals(new Shape(8, 11), entries.get("brain.bf16").shape());
        }
    }

    @Test
    void tensorsWrittenAndReadInPiecesComeBackEqualWithAnIndexOfTheShards(@TempDir Path dir) throws Exception {
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            SortedMap<String, NDArray> tensors = new TreeMap<>();
            tensors.put("a", manager.randomNormal(new Shape(7, 5)));
            tensors.put("b", manager.randomNormal(new Shape(13)));
            tensors.put("c", manager.randomNormal(new Shape(2, 3, 4)));
            // 12-byte pieces split rows; under a 100-byte bound a (140 bytes), b (52) and c (96) take a shard each.
            SafeTensors.write(dir, tensors, 100, 12);
            JsonNode index =
                    new ObjectMapper().readTree(dir.resolve(SafeTensors.INDEX).toFile());
            assertEquals(
                    (35 + 13 + 24) * 4,
                    index.path("metadata").path("total_size").asLong());
            assertEquals(
                    "model-00001-of-00003.safetensors",
                    index.path("weight_map").path("a").asText());
            assertEquals(
                    "model-00003-of-00003.safetensors",
                    index.path("weight_map").path("c").asText());
            byte[] shard = Files.readAllBytes(dir.resolve("model-00002-of-00003.safetensors"));
            int headerBytes =
                    (int) ByteBuffer.wrap(shard).order(ByteOrder.LITTLE_ENDIAN).getLong();
            JsonNode header = new ObjectMapper().readTree(shard, 8, headerBytes);
            assertEquals("pt", header.path("__metadata__").path("format").asText());
            Map<String, SafeTensors.Entry> entries = SafeTensors.open(dir);
            for (Map.Entry<String, NDArray> named : tensors.entrySet()) {
                NDArray read = SafeTensors.read(manager, entries.get(named.getKey()), 8);
                assertEquals(named.getValue().getShape(), read.getShape());
                assertArrayEquals(named.getValue().toFloatArray(), read.toFloatArray(), named.getKey());
            }
            IOException again = assertThrows(IOException.class, () -> SafeTensors.write(dir, tensors, 1L << 30));
            assertTrue(again.getMessage().contains("already holds"), again.getMessage());
        }
    }

    @Test
    void aHeaderLongerThanTheFileIsRefused(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("model.safetensors");
        Files.write(
                file,
                ByteBuffer.allocate(10)
                        .order(ByteOrder.LITTLE_ENDIAN)
                        .putLong(1000)
                        .array());
        assertRefused(file, "header of 1000 bytes overruns the file of 10");
    }

    @Test
    void anUnknownDtypeIsRefused(@TempDir Path dir) throws Exception {
        Path file = craft(dir, "{\"w\": {\"dtype\": \"Q4\", \"shape\": [2], \"data_offsets\": [0, 1]}}", 1);
        assertRefused(file, "tensor w has dtype 'Q4', not one of [F32, F16, BF16]");
    }

    @Test
    void offsetsThatDisagreeWithTheShapeAreRefused(@TempDir Path dir) throws Exception {
        Path file = craft(dir, "{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 4]}}", 4);
        assertRefused(file, "tensor w has data_offsets [0,4] (4 bytes), its F32 shape [2] needs 8");
    }

    @Test
    void offsetsThatLeaveAGapAreRefused(@TempDir Path dir) throws Exception {
        Path file = craft(
                dir,
                "{\"a\": {\"dtype\": \"F16\", \"shape\": [1], \"data_offsets\": [0, 2]},"
                        + " \"b\": {\"dtype\": \"F16\", \"shape\": [1], \"data_offsets\": [4, 6]}}",
                6);
        assertRefused(file, "tensor b starts at data offset 4, the one before it ends at 2");
    }

    @Test
    void anIndexNamingATensorItsShardLacksIsRefused(@TempDir Path dir) throws Exception {
        craft(dir, "{\"a\": {\"dtype\": \"F16\", \"shape\": [1], \"data_offsets\": [0, 2]}}", 2);
        Files.move(dir.resolve("model.safetensors"), dir.resolve("part-1.safetensors"));
        Files.writeString(
                dir.resolve(SafeTensors.INDEX),
                "{\"weight_map\": {\"a\": \"part-1.safetensors\", \"b\": \"part-1.safetensors\"}}");
        IOException e = assertThrows(IOException.class, () -> SafeTensors.open(dir));
        assertTrue(e.getMessage().contains("maps b to part-1.safetensors, whose header lacks it"), e.getMessage());
    }

    /** model.safetensors with this header and {@code dataBytes} zero bytes after it. */
    private static Path craft(Path dir, String header, int dataBytes) throws IOException {
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer file = ByteBuffer.allocate(8 + json.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        file.putLong(json.length).put(json);
        Path path = dir.resolve("model.safetensors");
        Files.write(path, file.array());
        return path;
    }

    private static void assertRefused(Path file, String reason) {
        IOException e = assertThrows(IOException.class, () -> SafeTensors.header(file));
        assertTrue(e.getMessage().contains(reason), e.getMessage());
    }
}
