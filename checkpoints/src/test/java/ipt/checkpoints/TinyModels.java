package ipt.checkpoints;

import ipt.model.ByteTokenizer;
import ipt.model.GptConfig;
import ipt.model.Training;
import java.nio.charset.StandardCharsets;
import java.util.Map;

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
