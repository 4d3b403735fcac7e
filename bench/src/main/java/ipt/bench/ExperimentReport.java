package ipt.bench;

import ipt.bench.ContinualPretraining.Point;
import ipt.bench.ContinualPretraining.Result;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/** The experiment's table, the target checked against the figures, and the service run beside the offline
 * one. */
record ExperimentReport(List<Result> results, ServiceArms.Outcome service, int steps, double minutes) {
    /** Gate-steered replay must lower the worst old domain's forgetting by at least this much against uniform
     * replay. */
    static final double STEERING_GAIN = 0.30;

    static final List<String> OLD = ContinualPretraining.DOMAINS.subList(0, ContinualPretraining.DOMAINS.size() - 1);
    static final String NEWEST = ContinualPretraining.DOMAINS.get(ContinualPretraining.DOMAINS.size() - 1);

    String markdown() {
        StringBuilder md = new StringBuilder();
        md.append(String.format(
                Locale.ROOT,
                "%d steps per phase (16 x 129 tokens each; rounds of %d steps); phases %s, then %s; seeds %s; "
                        + "%.1f minutes. Held-out loss in nats per byte, mean ± half the range over seeds. "
                        + "F(d): a domain's loss minus the lowest the arm "
                        + "reached on it so far; \"after %s\" is the end of the sequential phases, old domains %s.%n%n",
                steps,
                ContinualPretraining.ROUND_STEPS,
                ContinualPretraining.DOMAINS,
                ContinualPretraining.INTERLEAVED,
                seeds(),
                minutes,
                NEWEST,
                OLD));
        md.append("| arm | worst old F after ")
                .append(NEWEST)
                .append(" | F ")
                .append(String.join(" / ", OLD))
                .append(" | ")
                .append(NEWEST)
                .append(" loss after ")
                .append(NEWEST)
                .append(" | mean loss at the end | worst F at the end | promotions per phase | recoveries |\n");
        md.append("|---|---|---|---|---|---|---|---|\n");
        for (String arm : arms()) {
            List<Result> rs = of(arm);
            StringBuilder perOld = new StringBuilder();
            for (String d : OLD)
                perOld.append(perOld.length() == 0 ? "" : " / ")
                        .append(String.format(Locale.ROOT, "%.3f", mean(rs, r -> forgetting(r, NEWEST, d))));
            md.append(String.format(
                    Locale.ROOT,
                    "| %s%s | %s | %s | %s | %s | %s | %s | %s |%n",
                    arm,
                    rs.get(0).defaults() ? " (the defaults)" : "",
                    spread(rs, r -> worstOld(r)),
                    perOld,
                    spread(rs, r -> lossAt(r, NEWEST, NEWEST)),
                    spread(rs, ExperimentReport::meanAtEnd),
                    spread(rs, ExperimentReport::worstAtEnd),
                    promotions(rs),
                    rs.stream().map(r -> String.valueOf(r.recoveries())).toList()));
        }
        md.append("\nChecked on the means:\n\n");
        if (arms().contains("uniform") && arms().contains("steered")) {
            double u = mean(of("uniform"), ExperimentReport::worstOld);
            double s = mean(of("steered"), ExperimentReport::worstOld);
            check(
                    md,
                    s <= (1 - STEERING_GAIN) * u,
                    String.format(
                            Locale.ROOT,
                            "gate-steered replay lowers the worst old domain's forgetting after %s by "
                                    + "at least %.0f%% against uniform replay at the same fraction (%.0f%%) "
                                    + "and steps: %.4f vs %.4f (%.0f%% lower)",
                            NEWEST,
                            STEERING_GAIN * 100,
                            ContinualPretraining.FRACTION * 100,
                            s,
                            u,
                            100 * (1 - s / u)));
        }
        for (String arm : arms()) {
            if (!arm.startsWith(ContinualPretraining.SUITE_ARM)
                    || of("defaults").isEmpty()) continue;
            String d = arm.substring(ContinualPretraining.SUITE_ARM.length());
            ToDoubleFunction<Result> afterNewest = r -> lossAt(r, NEWEST, d);
            ToDoubleFunction<Result> atEnd =
                    r -> r.curve().get(r.curve().size() - 1).loss().get(d);
            md.append(String.format(
                    Locale.ROOT,
                    "- task-aware replay toward a %s suite (DSIR, the suite is %s's held-out text): %s loss after %s "
                            + "%.4f vs %.4f with plain sampling (%+.4f), at the end %.4f vs %.4f (%+.4f); mean loss "
                            + "at the end %.4f vs %.4f%n",
                    d,
                    d,
                    d,
                    NEWEST,
                    mean(of(arm), afterNewest),
                    mean(of("defaults"), afterNewest),
                    mean(of(arm), afterNewest) - mean(of("defaults"), afterNewest),
                    mean(of(arm), atEnd),
                    mean(of("defaults"), atEnd),
                    mean(of(arm), atEnd) - mean(of("defaults"), atEnd),
                    mean(of(arm), ExperimentReport::meanAtEnd),
                    mean(of("defaults"), ExperimentReport::meanAtEnd)));
        }
        String best = null;
        for (String arm : arms())
            if (best == null || mean(of(arm), ExperimentReport::score) < mean(of(best), ExperimentReport::score))
                best = arm;
        md.append(String.format(
                Locale.ROOT,
                "- lowest mean loss at the end plus worst old forgetting after %s: %s (%.4f)%n",
                NEWEST,
                best,
                mean(of(best), ExperimentReport::score)));
        if (service != null) service(md);
        return md.toString();
    }

    private void service(StringBuilder md) {
        Result offline = results.stream()
                .filter(r -> r.defaults() && r.seed() == ServiceArms.SEED)
                .findFirst()
                .orElse(null);
        md.append(String.format(
                Locale.ROOT,
                "%nThe defaults through the services (Kafka -> trainer -> evaluator with its default gate, seed %d, "
                        + "%.1f minutes; evaluator's held-out text identical to the offline run's: %s; "
                        + "waits for a report that ran out: %d):%n%n",
                ServiceArms.SEED,
                service.minutes(),
                service.heldOutIdentical() ? "yes" : "NO",
                service.timedOutWaits()));
        md.append("| | ")
                .append(String.join(" | ", ContinualPretraining.DOMAINS))
                .append(" | promotions per phase |\n|---|---|---|---|---|---|\n");
        md.append("| service |");
        for (String d : ContinualPretraining.DOMAINS)
            md.append(String.format(Locale.ROOT, " %.4f |", service.finalLoss().get(d)));
        md.append(' ').append(service.promotionsPerPhase()).append(" |\n");
        if (offline != null) {
            md.append("| offline |");
            Point end = offline.curve().get(offline.curve().size() - 1);
            for (String d : ContinualPretraining.DOMAINS)
                md.append(String.format(Locale.ROOT, " %.4f |", end.loss().get(d)));
            md.append(' ').append(promotions(List.of(offline))).append(" |\n");
            check(
                    md.append('\n'),
                    end.loss().equals(service.finalLoss()),
                    "the service's last checkpoint scores exactly as the offline run's");
        }
    }

    /** The last point of {@code phase}. */
    static Point end(Result r, String phase) {
        Point last = null;
        for (Point p : r.curve()) if (p.phase().equals(phase)) last = p;
        return last;
    }

    static double lossAt(Result r, String phase, String domain) {
        return end(r, phase).loss().get(domain);
    }

    /** Loss on {@code domain} at the end of {@code phase} minus the lowest the arm reached on it until then. */
    static double forgetting(Result r, String phase, String domain) {
        double low = Double.MAX_VALUE;
        Point end = end(r, phase);
        for (Point p : r.curve()) {
            low = Math.min(low, p.loss().get(domain));
            if (p == end) break;
        }
        return end.loss().get(domain) - low;
    }

    static double worstOld(Result r) {
        return OLD.stream().mapToDouble(d -> forgetting(r, NEWEST, d)).max().orElse(Double.NaN);
    }

    static double meanAtEnd(Result r) {
        return r.curve().get(r.curve().size() - 1).loss().values().stream()
                .mapToDouble(Double::doubleValue)
                .average()
                .orElse(Double.NaN);
    }

    static double worstAtEnd(Result r) {
        return ContinualPretraining.DOMAINS.stream()
                .mapToDouble(d -> forgetting(r, ContinualPretraining.INTERLEAVED, d))
                .max()
                .orElse(Double.NaN);
    }

    /** What the defaults are chosen by: the final mean loss plus the worst old forgetting after the sequential
     * phases. */
    static double score(Result r) {
        return meanAtEnd(r) + worstOld(r);
    }

    /** Promoted rounds per phase, e.g. 3/1/0/2/3, over the first seed's run. */
    private static String promotions(List<Result> rs) {
        List<String> counts = new ArrayList<>();
        LinkedHashSet<String> phases = new LinkedHashSet<>();
        rs.get(0).curve().forEach(p -> phases.add(p.phase()));
        for (String phase : phases) {
            counts.add(String.valueOf(rs.get(0).curve().stream()
                    .filter(p -> p.phase().equals(phase) && p.decision().equals("PROMOTE"))
                    .count()));
        }
        return String.join("/", counts);
    }

    private List<Long> seeds() {
        return results.stream().map(Result::seed).distinct().toList();
    }

    private static void check(StringBuilder md, boolean met, String what) {
        md.append("- ")
                .append(met ? "met" : "NOT met")
                .append(": ")
                .append(what)
                .append('\n');
    }

    private List<String> arms() {
        LinkedHashSet<String> names = new LinkedHashSet<>();
        results.forEach(r -> names.add(r.arm()));
        return new ArrayList<>(names);
    }

    private List<Result> of(String arm) {
        return results.stream().filter(r -> r.arm().equals(arm)).toList();
    }

    private static <T> double mean(List<T> xs, ToDoubleFunction<T> f) {
        return xs.stream().mapToDouble(f).average().orElse(Double.NaN);
    }

    private static <T> String spread(List<T> xs, ToDoubleFunction<T> f) {
        double range = xs.stream().mapToDouble(f).max().orElse(Double.NaN)
                - xs.stream().mapToDouble(f).min().orElse(Double.NaN);
        return String.format(Locale.ROOT, "%.4f ± %.4f", mean(xs, f), range / 2);
    }
}
