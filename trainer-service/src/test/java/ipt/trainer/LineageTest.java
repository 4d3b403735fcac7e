package ipt.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ipt.model.ByteTokenizer;
import ipt.checkpoints.Checkpoint;
import ipt.checkpoints.CheckpointStore;
import ipt.model.GptConfig;
import ipt.model.TrainConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
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
    return round(lineage, first, Lineage.Decisions.NONE);
  }

  private static Lineage.Round round(Lineage lineage, int first, Lineage.Decisions decisions) throws Exception {
    for (int i = first; lineage.fullSequences() < lineage.sequencesPerRound(); i++) {
      lineage.add("doc-" + i, "en", i + ": " + TEXT);
    }
    Lineage.Round round = lineage.round(lineage.sequencesPerRound(), decisions, Map.of(), null);
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
      lineage.round(lineage.sequencesPerRound(), Lineage.Decisions.NONE, Map.of(), null);
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
        assertEquals(parent.step(), fork.step());
        assertEquals(parent.replaySequences(), fork.replaySequences(), "a copy of the parent's replay store");
        assertEquals(4 * 4, fork.sequencesPerRound(), "the fork's own replay fraction, 0: every row is new");
        Lineage.Round round = round(fork, 1000);
        assertEquals(2, round.version());
        assertEquals(noReplay.checkpointRoot().resolve("v000002").toString(), round.location());
      }
      assertEquals(4 * 3, parent.sequencesPerRound(), "the parent replays a quarter of each batch");
    }
  }

  @Test
  void afterEnoughRejectionsARoundRestartsFromTheChampionWithMoreReplayOnce() throws Exception {
    // Resets after 3 rejections, raising replay by 0.1; batches of 8 rows, so 25% and 35% replay differ in rows.
    TrainerConfig c = config("decide").withRounds(4, 8, Duration.ofSeconds(1));
    try (Lineage lineage = Lineage.recover(c, store(c), null)) {
      Lineage.Round v1 = round(lineage, 0);
      long championStep = lineage.step();
      for (int v = 2; v <= 4; v++) round(lineage, 1000 * v);
      Lineage.Decisions rejected = new Lineage.Decisions(1, v1.location(), List.of(2L, 3L, 4L));

      Lineage.Round reset = round(lineage, 5000, rejected);
      assertEquals(championStep + reset.steps(), lineage.step(), "the round trained on from the champion's weights");
      LineageState state = LineageState.parse(reset.checkpoint().file(Lineage.STATE_FILE));
      assertEquals(new LineageState(Math.min(0.5, 0.25 + 0.1), 0.25, 4, 1), state);

      long before = lineage.step();
      Lineage.Round next = round(lineage, 6000, rejected);
      assertEquals(before + next.steps(), lineage.step(), "rejections a reset answered do not reset again");
      assertEquals(state, LineageState.parse(next.checkpoint().file(Lineage.STATE_FILE)));
    }
    try (Lineage resumed = Lineage.recover(c, store(c), c.checkpointRoot().resolve("v000006").toString())) {
      assertEquals(4 * 5, resumed.sequencesPerRound(), "the raised replay (3 of 8 rows) survives a restart");
    }
  }
}
