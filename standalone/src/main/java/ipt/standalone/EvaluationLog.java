package ipt.standalone;

import ipt.runtime.DecisionFollower;
import ipt.schemas.EvaluationReport;
import ipt.schemas.Promotion;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/** Follows ipt.evaluations (read_committed) and keeps every report, in order. */
final class EvaluationLog implements DecisionFollower.Listener, AutoCloseable {
    private final List<EvaluationReport> seen = new ArrayList<>();
    private final Consumer<EvaluationReport> onReport;
    private final DecisionFollower follower;

    EvaluationLog(Map<String, Object> kafka, Consumer<EvaluationReport> onReport) {
        this.onReport = onReport;
        this.follower = DecisionFollower.start(kafka, "evaluation-log", this);
    }

    /** After a lost connection the reports are read again: those already kept (and told) are not told twice. */
    @Override
    public void restart() {}

    @Override
    public void promotion(Promotion promotion) {}

    @Override
    public void report(EvaluationReport report) {
        synchronized (seen) {
            if (seen.contains(report)) return;
            seen.add(report);
        }
        onReport.accept(report);
    }

    List<EvaluationReport> reports() {
        synchronized (seen) {
            return List.copyOf(seen);
        }
    }

    @Override
    public void close() throws InterruptedException {
        follower.close();
    }
}
