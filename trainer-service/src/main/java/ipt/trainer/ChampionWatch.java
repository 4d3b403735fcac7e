package ipt.trainer;

import ipt.runtime.DecisionFollower;
import ipt.schemas.Decision;
import ipt.schemas.EvaluationReport;
import ipt.schemas.Promotion;
import java.util.ArrayList;
import java.util.List;

/**
 * What a trainer follows of the evaluator's decisions on its lineage: the current champion and the candidates
 * rejected since the last promotion. Told by a {@link DecisionFollower}; the decisions it gives out are those of a
 * caught-up read, never of a half-read one.
 */
final class ChampionWatch implements DecisionFollower.Listener {
  private final String lineage;
  private Promotion champion;
  private final List<Long> rejected = new ArrayList<>();
  private boolean caughtUp;
  private volatile Lineage.Decisions decisions = Lineage.Decisions.NONE;

  ChampionWatch(String lineage) {
    this.lineage = lineage;
  }

  /** The champion, if any, and the versions rejected after it was promoted, oldest first. */
  Lineage.Decisions decisions() {
    return decisions;
  }

  @Override
  public void restart() {
    champion = null;
    rejected.clear();
    caughtUp = false;
  }

  @Override
  public void promotion(Promotion promotion) {
    if (!lineage.equals(promotion.getLineage())) return;
    champion = promotion;
    publish();
  }

  @Override
  public void report(EvaluationReport report) {
    if (!lineage.equals(report.getLineage())) return;
    if (report.getDecision() == Decision.PROMOTE) rejected.clear();
    else rejected.add(report.getCandidateVersion());
    publish();
  }

  @Override
  public void caughtUp() {
    caughtUp = true;
    publish();
  }

  private void publish() {
    if (!caughtUp) return;
    decisions = champion == null ? Lineage.Decisions.NONE
        : new Lineage.Decisions(champion.getVersion(), champion.getLocation(), List.copyOf(rejected));
  }
}
