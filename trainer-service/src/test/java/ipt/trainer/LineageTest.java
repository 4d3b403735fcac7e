package ipt.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ipt.model.ByteTokenizer;
import ipt.model.Checkpoint;
import ipt.model.CheckpointStore;
import ipt.model.GptConfig;
import ipt.model.TrainConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Recover, round, checkpoint on real training of a tiny model, without Kafka. */
class LineageTest {
  private static final GptConfig TINY = new GptConfig(ByteTokenizer.VOCAB_SIZE, 32, 32, 1, 2);
  private static final String TEXT = "Madam President, on behalf of the committee I would like to thank the rapporteur for "
      + "her work on this report. The proposal before us today is a balanced compromise. ";

  @TempDir Path dir;

  private TrainerConfig config(String lineage) {
    return TrainerConfig.of(lineage, dir, 0.25).withModel(TINY, TrainConfig.defaults())
        .withRounds(4, 4, Duration.ofSeconds(1));
  }

  private static CheckpointStore store(TrainerConfig c) {
    return CheckpointStore.of(c.checkpointStore(), c.checkpointRoot().getParent(), Map.of());
  }

  /** Adds documents until a full round is packed, trains it and commits it. */
  private static Lineage.Round round(Lineage lineage, int first) throws Exception {
    for (int i = first; lineage.fullSequences() < lineage.sequencesPerRound(); i++) {
      lineage.add("doc-" + i, "en", i + ": " + TEXT);
    }
    Lineage.Round round = lineage.round(lineage.sequencesPerRound(), Lineage.Reports.NONE, Map.of(), null);
    lineage.committed(round);
    return round;
  }

  @Test
  void aRecoveredLineageTrainsTheSameNextRoundAsOneThatNeverStopped() throws Exception {
    TrainerConfig straight = config("straight");
    Lineage.Round second;
    try (Lineage lineage = Lineage.recover(straight, store(straight), null)) {
      assertNull(lineage.location());
      round(lineage, 0);
      second = round(lineage, 1000);
    }
    TrainerConfig resumed = config("resumed");
    Lineage.Round again;
    String first;
    try (Lineage lineage = Lineage.recover(resumed, store(resumed), null)) {
      first = round(lineage, 0).location();
    }
    // A round written but never committed is an orphan: recovery removes it and trains it again.
    try (Lineage lineage = Lineage.recover(resumed, store(resumed), first)) {
      for (int i = 1000; lineage.fullSequences() < lineage.sequencesPerRound(); i++) {
        lineage.add("doc-" + i, "en", i + ": " + TEXT);
      }
      lineage.round(lineage.sequencesPerRound(), Lineage.Reports.NONE, Map.of(), null);
    }
    try (Lineage lineage = Lineage.recover(resumed, store(resumed), first)) {
      assertEquals(1, lineage.version());
      assertFalse(Files.exists(resumed.checkpointRoot().resolve("v000002")), "the uncommitted v2 is gone");
      again = round(lineage, 1000);
    }
    assertEquals(2, again.version());
    assertEquals(1L, again.parentVersion());
    // Weights, optimizer state, packer tail, lineage state and the documents trained on: every file alike.
    assertEquals(second.checkpoint().manifest().files(), again.checkpoint().manifest().files());
    Checkpoint written = Checkpoint.open(Path.of(again.location()));
    String documents = new String(written.file(Lineage.DOCUMENTS_FILE), StandardCharsets.UTF_8);
    assertEquals("doc-1000", documents.lines().findFirst().orElseThrow());
  }

  @Test
  void aForkGoesOnFromItsParentsCheckpointWithItsOwnSettings() throws Exception {
    TrainerConfig parentConfig = config("parent");
    try (Lineage parent = Lineage.recover(parentConfig, store(parentConfig), null)) {
      assertThrows(IllegalStateException.class, () -> Lineage.fork(parent, config("early"), store(parentConfig)));
      round(parent, 0);
      TrainerConfig noReplay = TrainerConfig.of("fork", dir, 0).withModel(TINY, TrainConfig.defaults())
          .withRounds(4, 4, Duration.ofSeconds(1));
      try (Lineage fork = Lineage.fork(parent, noReplay, store(noReplay))) {
        assertEquals(parent.model().step(), fork.model().step());
        assertEquals(parent.replaySequences(), fork.replaySequences(), "a copy of the parent's replay store");
        assertEquals(4 * 4, fork.sequencesPerRound(), "the fork's own replay fraction, 0: every row is new");
        Lineage.Round round = round(fork, 1000);
        assertEquals(2, round.version());
        assertEquals(noReplay.checkpointRoot().resolve("v000002").toString(), round.location());
      }
      assertEquals(4 * 3, parent.sequencesPerRound(), "the parent replays a quarter of each batch");
    }
  }
}
