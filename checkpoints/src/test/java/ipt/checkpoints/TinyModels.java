package ipt.checkpoints;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import ipt.model.ByteTokenizer;
import ipt.model.GptConfig;
import ipt.model.Training;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** A tiny GPT trained a few steps on a few sentences, and a manifest that describes it. */
final class TinyModels {
    static final GptConfig TINY = new GptConfig(ByteTokenizer.VOCAB_SIZE, 32, 32, 2, 4);
    private static final byte[] TEXT =
            ("It was the best of times, it was the worst of times, it was the age of wisdom, it was "
                            + "the age of foolishness. The river flows past the old mill, turning the wheel "
                            + "that grinds the village's grain.")
                    .getBytes(StandardCharsets.UTF_8);

    private TinyModels() {}

    /** Batch number i: rows of contextLength+1 bytes at offsets that depend only on i. */
    static int[][] batch(int i) {
        int[][] rows = new int[4][TINY.contextLength() + 1];
        int span = TEXT.length - TINY.contextLength() - 1;
        for (int r = 0; r < rows.length; r++) {
            int start = (i * rows.length + r) * 7919 % span;
            for (int t = 0; t < rows[r].length; t++) rows[r][t] = TEXT[start + t] & 0xff;
        }
        return rows;
    }

    /**
     * Reads a checkpoint directory as transformers would, with Python's standard library: GPT-2's config.json, every
     * shard the index names, each with {@code __metadata__ {"format": "pt"}} and float32 tensors filling it without
     * gaps; prints each tensor's name and element count, then the total.
     */
    static final String READ_SAFETENSORS = """
            import json, os, struct, sys
            d = sys.argv[1]
            config = json.load(open(os.path.join(d, "config.json")))
            assert config["architectures"] == ["GPT2LMHeadModel"], config
            weight_map = json.load(open(os.path.join(d, "model.safetensors.index.json")))["weight_map"]
            seen, total = set(), 0
            for shard in sorted(set(weight_map.values())):
                with open(os.path.join(d, shard), "rb") as f:
                    n = struct.unpack("<Q", f.read(8))[0]
                    header = json.loads(f.read(n))
                    size = len(f.read())
                assert header.pop("__metadata__") == {"format": "pt"}, shard
                end = 0
                for name, t in sorted(header.items(), key=lambda e: e[1]["data_offsets"]):
                    assert weight_map[name] == shard and t["dtype"] == "F32", name
                    count = 1
                    for s in t["shape"]:
                        count *= s
                    begin, stop = t["data_offsets"]
                    assert begin == end and stop - begin == 4 * count, name
                    end = stop
                    seen.add(name)
                    total += count
                    print(name, count)
                assert end == size, shard
            assert seen == set(weight_map), set(weight_map) ^ seen
            print("total", total)
            """;

    /** Debian's python3 or the one on the PATH; the test is skipped without one. */
    static String python() {
        for (String candidate : List.of("/usr/bin/python3", "python3")) {
            try {
                Process p = new ProcessBuilder(candidate, "-c", "pass").start();
                if (p.waitFor() == 0) return candidate;
            } catch (IOException e) {
                // not this one
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        assumeTrue(false, "no python3");
        return null;
    }

    /** A checkpoint as format 1 wrote it: ipt's GPT in DJL's params.bin beside optimizer.bin. */
    static Path writeFormatOne(Path dir, Training training) throws IOException {
        Files.createDirectories(dir);
        Map<String, byte[]> files = Map.of(
                Checkpoint.PARAMS_FILE, training.model().parameterBytes(),
                Checkpoint.OPTIMIZER_FILE, training.optimizerBytes());
        Map<String, String> hashes = new TreeMap<>();
        for (Map.Entry<String, byte[]> file : files.entrySet()) {
            Files.write(dir.resolve(file.getKey()), file.getValue());
            hashes.put(file.getKey(), Checkpoint.sha256(file.getValue()));
        }
        Checkpoint.Manifest described = manifest(training, 3);
        byte[] json = new ObjectMapper()
                .enable(SerializationFeature.INDENT_OUTPUT)
                .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
                .writeValueAsBytes(new Checkpoint.Manifest(
                        Checkpoint.PARAMS_FORMAT_VERSION,
                        described.lineage(),
                        described.version(),
                        described.parentVersion(),
                        described.model(),
                        described.architecture(),
                        described.step(),
                        described.tokensSeen(),
                        described.offsets(),
                        described.trainLoss(),
                        described.createdAtMillis(),
                        hashes));
        Files.write(dir.resolve(Checkpoint.MANIFEST_FILE), json);
        Files.writeString(dir.resolve(Checkpoint.MANIFEST_SHA_FILE), Checkpoint.sha256(json));
        return dir;
    }

    static Checkpoint.Manifest manifest(Training training, long version) {
        return new Checkpoint.Manifest(
                Checkpoint.FORMAT_VERSION,
                "test",
                version,
                null,
                training.model().config(),
                training.model().architecture(),
                training.step(),
                training.step() * 128,
                Map.of("ipt.documents.curated-0", 42L),
                3.5,
                1_700_000_000_000L,
                Map.of());
    }
}
