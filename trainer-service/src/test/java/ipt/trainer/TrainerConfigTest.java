package ipt.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerConfigTest {
    @Test
    void readsEverySettingFromTheEnvironment() {
        TrainerConfig c = TrainerConfig.fromEnv(Map.ofEntries(
                Map.entry("IPT_LINEAGE", "prod"),
                Map.entry("IPT_SCHEDULE", "wsd"),
                Map.entry("IPT_ANNEAL_STEPS", "7"),
                Map.entry("IPT_MICRO_BATCHES", "4"),
                Map.entry("IPT_REPLAY_POLICY", "domain-balanced"),
                Map.entry("IPT_REPLAY_CAPACITY_MB", "1.5"),
                Map.entry("IPT_FREEZE_EMBEDDINGS", "true"),
                Map.entry("IPT_FROZEN_BLOCKS", "1"),
                Map.entry("IPT_L2_PULL", "0.2"),
                Map.entry("IPT_RESET_AFTER_REJECTIONS", "5"),
                Map.entry("IPT_LAYERS", "3"),
                Map.entry("IPT_PARTITION_WAIT_SECONDS", "4")));
        assertEquals("prod", c.lineage());
        assertEquals(
                new TrainerConfig.Rounds(
                        50, 16, 4, c.rounds().idleFlush(), Duration.ofSeconds(4), TrainerConfig.Rounds.Schedule.WSD, 7),
                c.rounds());
        assertEquals(
                new TrainerConfig.Replay(
                        0.25, (long) (1.5 * (1 << 20)), TrainerConfig.Replay.Policy.DOMAIN_BALANCED, null),
                c.replay());
        assertEquals(new TrainerConfig.Forgetting(true, 1, 0.2f, 5, 0.1, 0.5), c.forgetting());
        assertEquals(3, c.model().nLayers());
    }

    @Test
    void readsTheGateSteeringAndTheSqrtCooldown() {
        TrainerConfig c = TrainerConfig.fromEnv(Map.of(
                "IPT_SCHEDULE",
                "wsd-sqrt",
                "IPT_REPLAY_POLICY",
                "steered",
                "IPT_REPLAY_FLOOR",
                "0.4",
                "IPT_REPLAY_GAIN",
                "3",
                "IPT_EVALUATION_WAIT_SECONDS",
                "20",
                "IPT_RECOVERY",
                "reset-if-worse",
                "IPT_INTERPOLATION_KEEP",
                "0.7"));
        assertEquals(TrainerConfig.Rounds.Schedule.WSD_SQRT, c.rounds().schedule());
        assertEquals(TrainerConfig.Replay.Policy.STEERED, c.replay().policy());
        assertEquals(
                new TrainerConfig.Steering(
                        0.4, 3, java.time.Duration.ofSeconds(20), TrainerConfig.Steering.Recovery.RESET_IF_WORSE, 0.7),
                c.steering());
        assertThrows(IllegalArgumentException.class, () -> TrainerConfig.fromEnv(Map.of("IPT_REPLAY_FLOOR", "1.5")));
        assertThrows(IllegalArgumentException.class, () -> TrainerConfig.fromEnv(Map.of("IPT_RECOVERY", "rewind")));
    }

    @Test
    void aBadValueNamesItsVariable() {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class, () -> TrainerConfig.fromEnv(Map.of("IPT_REPLAY_POLICY", "recent")));
        assertEquals("IPT_REPLAY_POLICY=recent: must be one of uniform, domain-balanced, steered", e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class, () -> TrainerConfig.fromEnv(Map.of("IPT_REPLAY_FRACTION", "1.5")));
        assertEquals("IPT_REPLAY_FRACTION=1.5: must be in [0, 1)", e.getMessage());
        assertThrows(
                IllegalArgumentException.class,
                () -> TrainerConfig.fromEnv(Map.of("IPT_MICRO_BATCHES", "3")),
                "3 does not divide 16");
        assertThrows(
                IllegalArgumentException.class,
                () -> TrainerConfig.fromEnv(Map.of("IPT_FROZEN_BLOCKS", "3")),
                "the default model has 2 blocks");
    }

    @Test
    void aStartNamesAnExistingCheckpointOrATorchScriptFileWithItsTokenizer(@TempDir Path dir) throws Exception {
        Path module = Files.writeString(dir.resolve("model.pt"), "x");
        Path tokenizer = Files.writeString(dir.resolve("tokenizer.json"), "{}");
        assertEquals(TrainerConfig.Start.FRESH, TrainerConfig.fromEnv(Map.of()).start());
        assertEquals(
                new TrainerConfig.Start(module, tokenizer),
                TrainerConfig.fromEnv(
                                Map.of("IPT_START_FROM", module.toString(), "IPT_TOKENIZER", tokenizer.toString()))
                        .start());
        assertEquals(
                new TrainerConfig.Start(dir, null),
                TrainerConfig.fromEnv(Map.of("IPT_START_FROM", dir.toString())).start());
        assertEquals(
                new TrainerConfig.Start("s3://models/prefix/my-llama", null),
                TrainerConfig.fromEnv(Map.of("IPT_START_FROM", "s3://models/prefix/my-llama"))
                        .start(),
                "a directory in an s3:// store, fetched when the lineage starts");
        IllegalArgumentException noTokenizer = assertThrows(
                IllegalArgumentException.class,
                () -> TrainerConfig.fromEnv(Map.of("IPT_START_FROM", module.toString())));
        assertTrue(noTokenizer.getMessage().contains("needs its tokenizer.json"), noTokenizer.getMessage());
        IllegalArgumentException missing = assertThrows(
                IllegalArgumentException.class,
                () -> TrainerConfig.fromEnv(
                        Map.of("IPT_START_FROM", dir.resolve("nope.pt").toString())));
        assertTrue(
                missing.getMessage().startsWith("IPT_START_FROM=")
                        && missing.getMessage()
                                .endsWith(": must exist, or be an s3:// location in the checkpoint store"),
                missing.getMessage());
        assertThrows(
                IllegalArgumentException.class,
                () -> TrainerConfig.fromEnv(Map.of("IPT_TOKENIZER", tokenizer.toString())));
    }
}
