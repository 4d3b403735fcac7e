package ipt.evaluator;

import ipt.schemas.CheckpointPublished;
import java.util.List;
import java.util.Locale;

/**
 * What a report says happens next (EvaluationReport.next): which version is served, what the trainer does by its
 * own published policy, which domains it has to win back, and when the lineage is stalled, whether that looks like
 * a lack of capacity (old domains still regress with replay at the trainer's ceiling) rather than bad luck.
 */
final class NextStep {
    private NextStep() {}

    /**
     * @param servedVersion the champion after this decision (null: none)
     * @param stall the rejections since the last promotion, this decision included
     * @param regressed the learned tasks the candidate lost ground on, each with how far, e.g. "heldout/en +6.1%
     * over the champion"
     */
    static String of(
            PromotionGate.Verdict verdict,
            CheckpointPublished candidate,
            Long servedVersion,
            Stall stall,
            int stallAfter,
            List<String> regressed) {
        String trainer = candidate.getPolicy() == null
                ? "the trainer keeps training by its own policy"
                : "the trainer " + candidate.getPolicy();
        if (verdict.promote()) {
            return String.format(
                    Locale.ROOT,
                    "serving v%d; the trainer goes on from its latest round, v%d",
                    candidate.getVersion(),
                    candidate.getVersion());
        }
        StringBuilder next =
                new StringBuilder(servedVersion == null ? "nothing served yet" : "v" + servedVersion + " stays served");
        next.append("; ").append(trainer);
        if (!regressed.isEmpty()) next.append("; to win back: ").append(String.join(", ", regressed));
        if (stall.rejected() < stallAfter) {
            next.append(String.format(
                    Locale.ROOT,
                    "; %d of %d rejections in a row before the lineage counts as stalled",
                    stall.rejected(),
                    stallAfter));
            return next.toString();
        }
        next.append("; STALLED: ")
                .append(stall.rejected())
                .append(" candidates rejected since the last promotion, mostly by ")
                .append(stall.mainRule());
        Double replay = candidate.getReplayFraction();
        Double ceiling = candidate.getMaxReplayFraction();
        if (!regressed.isEmpty() && replay != null && ceiling != null && replay >= ceiling) {
            next.append(String.format(
                    Locale.ROOT,
                    "; replay is at its ceiling (%.0f%%) and old domains still regress: the model looks too small for"
                            + " this stream (README, \"When the gate stops promoting\"): a larger model, "
                            + "fewer domains per lineage, or a looser"
                            + " IPT_REGRESSION_BUDGET",
                    100 * ceiling));
        }
        return next.toString();
    }
}
