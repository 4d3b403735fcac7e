package ipt.evaluator;

import ipt.model.LanguageModel;
import ipt.model.Task;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * The evaluator's decision on one candidate, without Kafka: a checkpoint that cannot be read, loaded or scored is
 * refused with the rule that says why (integrity, unscorable:task); otherwise it is scored on every task beside its
 * lineage's champion and the gate decides.
 */
final class Judgement {
    /** The champion's score on a task (the evaluator caches them per champion). */
    interface ChampionScores {
        TaskScores.Score of(Task task);
    }

    /** The candidate's model (null when refused before loading), its scores, the measures and the verdict. */
    record Result(
            LanguageModel model,
            Map<String, TaskScores.Score> scores,
            List<PromotionGate.Measure> measures,
            PromotionGate.Verdict verdict,
            PromotionGate.History history) {}

    private Judgement() {}

    /**
     * Judges the candidate at {@code access} against the champion ({@code champion} null: the lineage has none). Once
     * {@code stop} says so the decision is abandoned before the next task is scored (InterruptedException): with no
     * verdict nothing is committed, and the checkpoint is judged after a restart.
     */
    static Result judge(
            String lineage,
            CheckpointAccess access,
            List<Task> tasks,
            ChampionScores champion,
            PromotionGate gate,
            String newestHeldOut,
            PromotionGate.History history,
            BooleanSupplier stop)
            throws InterruptedException {
        Map<String, TaskScores.Score> scores = new HashMap<>();
        List<PromotionGate.Measure> measures = new ArrayList<>();
        LanguageModel model = null;
        PromotionGate.Verdict verdict;
        try {
            if (access.refusal() != null) throw new Refused(access.refusal());
            model = access.checkpoint().model();
            String nonFinite = model.nonFiniteParameter().orElse(null);
            if (nonFinite != null) throw new Refused("non-finite weights in " + nonFinite);
            for (int t = 0; t < tasks.size(); t++) {
                if (stop.getAsBoolean()) {
                    model.close();
                    throw new InterruptedException(
                            "stop requested: decision abandoned before task " + (t + 1) + " of " + tasks.size());
                }
                Task task = tasks.get(t);
                TaskScores.Score own;
                try {
                    own = TaskScores.score(model, task);
                } catch (IllegalArgumentException e) {
                    throw new Refused("unscorable:" + task.name(), e.getMessage());
                }
                scores.put(task.name(), own);
                TaskScores.Score theirs = champion == null ? null : champion.of(task);
                for (Map.Entry<String, Double> metric : own.metrics().entrySet()) {
                    measures.add(new PromotionGate.Measure(
                            task.name(),
                            metric.getKey(),
                            metric.getValue(),
                            theirs == null ? null : theirs.metrics().get(metric.getKey()),
                            own.count()));
                }
            }
            history = withChampion(history, measures);
            verdict = gate.decide(lineage, measures, champion != null, newestHeldOut, history);
        } catch (Refused e) {
            verdict = refused(e.rule, e.getMessage());
        } catch (IOException | UncheckedIOException | IllegalArgumentException e) {
            // Files that passed their checksums but do not load as a model (a manifest that lies about the shape).
            verdict = refused("integrity", e.getMessage());
        }
        return new Result(model, scores, measures, verdict, history);
    }

    /** The lineage's best losses, with the champion's of this decision (it may not be in the ledger yet). */
    private static PromotionGate.History withChampion(
            PromotionGate.History history, List<PromotionGate.Measure> measures) {
        Map<String, Double> best = new HashMap<>(history.best());
        for (PromotionGate.Measure m : measures) {
            if (m.metric().equals(TaskScores.LOSS) && m.champion() != null && Double.isFinite(m.champion()))
                best.merge(m.task(), m.champion(), Math::min);
        }
        return new PromotionGate.History(history.weights(), best);
    }

    private static PromotionGate.Verdict refused(String rule, String why) {
        return new PromotionGate.Verdict(false, rule, why, List.of(new PromotionGate.Outcome(rule, false, why)));
    }

    /** A candidate that cannot be judged: the rule that says so (integrity, unscorable:task), and why. */
    private static final class Refused extends Exception {
        final String rule;

        Refused(String why) {
            this("integrity", why);
        }

        Refused(String rule, String why) {
            super(why);
            this.rule = rule;
        }
    }
}
