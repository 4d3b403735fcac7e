package ipt.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ipt.schemas.Decision;
import ipt.schemas.EvaluationReport;
import ipt.schemas.Promotion;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What the trainer follows of the evaluator's decisions, told as the decision follower tells them. */
class ChampionWatchTest {
  private static Promotion promotion(String lineage, long version) {
    Promotion p = new Promotion();
    p.setLineage(lineage);
    p.setVersion(version);
    p.setLocation("/checkpoints/" + lineage + "/v" + version);
    return p;
  }

  private static EvaluationReport report(String lineage, long version, Decision decision) {
    EvaluationReport r = new EvaluationReport();
    r.setLineage(lineage);
    r.setCandidateVersion(version);
    r.setDecision(decision);
    return r;
  }

  @Test
  void theChampionAndTheRejectionsSinceItOfItsOwnLineageOnly() {
    ChampionWatch watch = new ChampionWatch("main");
    watch.restart();
    watch.report(report("main", 1, Decision.PROMOTE));
    watch.promotion(promotion("main", 1));
    watch.report(report("main", 2, Decision.REJECT));
    watch.report(report("other", 3, Decision.REJECT));
    watch.promotion(promotion("other", 3));
    watch.report(report("main", 4, Decision.REJECT));
    assertEquals(Lineage.Decisions.NONE, watch.decisions(), "nothing is given out before the read caught up");
    watch.caughtUp();
    assertEquals(new Lineage.Decisions(1, "/checkpoints/main/v1", List.of(2L, 4L)), watch.decisions());

    watch.report(report("main", 5, Decision.PROMOTE));
    watch.promotion(promotion("main", 5));
    assertEquals(new Lineage.Decisions(5, "/checkpoints/main/v5", List.of()), watch.decisions(), "a promotion clears them");
  }

  @Test
  void aReReadKeepsGivingTheCaughtUpDecisionsUntilItCatchesUpAgain() {
    ChampionWatch watch = new ChampionWatch("main");
    watch.restart();
    watch.promotion(promotion("main", 1));
    watch.report(report("main", 2, Decision.REJECT));
    watch.caughtUp();
    Lineage.Decisions before = watch.decisions();
    watch.restart(); // a lost connection: both topics are read again from their beginnings
    watch.promotion(promotion("main", 1));
    assertEquals(before, watch.decisions(), "not the half-read state");
    watch.report(report("main", 2, Decision.REJECT));
    watch.report(report("main", 3, Decision.REJECT));
    watch.caughtUp();
    assertEquals(new Lineage.Decisions(1, "/checkpoints/main/v1", List.of(2L, 3L)), watch.decisions());
  }

  @Test
  void rejectionsWithoutAChampionGiveNoDecisions() {
    ChampionWatch watch = new ChampionWatch("main");
    watch.restart();
    watch.report(report("main", 1, Decision.REJECT));
    watch.caughtUp();
    assertEquals(Lineage.Decisions.NONE, watch.decisions());
  }
}
