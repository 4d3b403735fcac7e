package ipt.bench;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * The soak (README "Soak"): {@code bench/run Soak <minutes> [--work-dir D] [--rate DOCS_PER_S] [--retain-last N]
 * [--retain-champions N] [--retain-fetched N] [--dedup-horizon H] [--faults N] [--steps-per-round N]}. Runs the
 * services as separate processes under a steady stream and scheduled faults, writes samples.csv, soak.png and
 * summary.txt into the work directory, prints the summary, and exits 1 when the accounting fails, a fault was not
 * recovered from, or a process exited by itself.
 */
public final class Soak {
    private Soak() {}

    public static void main(String[] args) throws Exception {
        double minutes = Double.parseDouble(args[0]);
        Path work = Path.of("soak-run");
        double rate = 1.5;
        int retainLast = 5;
        // The chart keeps 10 champions; a lineage takes about an hour here to spread 10 champions past its newest 5,
        // so with 10 the store would still be filling in the measuring window. With 3 it is within reach; how full it
        // is still follows the gate (README "Footprint"): --retain-last 20 makes the newest dominate.
        int retainChampions = 3;
        int retainFetched = 2;
        String horizon = "10m";
        int faults = Math.max(6, (int) Math.round(minutes / 5));
        int steps = 50;
        for (int i = 1; i < args.length; i += 2) {
            switch (args[i]) {
                case "--work-dir" -> work = Path.of(args[i + 1]);
                case "--rate" -> rate = Double.parseDouble(args[i + 1]);
                case "--retain-last" -> retainLast = Integer.parseInt(args[i + 1]);
                case "--retain-champions" -> retainChampions = Integer.parseInt(args[i + 1]);
                case "--retain-fetched" -> retainFetched = Integer.parseInt(args[i + 1]);
                case "--dedup-horizon" -> horizon = args[i + 1];
                case "--faults" -> faults = Integer.parseInt(args[i + 1]);
                case "--steps-per-round" -> steps = Integer.parseInt(args[i + 1]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        SoakRun.Options options = new SoakRun.Options(
                work,
                minutes,
                rate,
                600,
                steps,
                faults,
                retainLast,
                retainChampions,
                retainFetched,
                horizon,
                Duration.ofSeconds(20),
                Duration.ofMinutes(5),
                Duration.ofMinutes(10),
                Duration.ofSeconds(10));
        SoakRun.Result result = new SoakRun(options, System.out).run();
        String summary = summary(options, result);
        System.out.print(summary);
        Files.writeString(work.resolve("summary.txt"), summary);
        SoakChart.draw(
                result.samples(),
                result.columns(),
                result.recoveries(),
                String.format(
                        Locale.ROOT,
                        "ipt soak: %.0f min, %.1f docs/s, IPT_RETAIN_LAST=%d, IPT_RETAIN_CHAMPIONS=%d, "
                                + "IPT_RETAIN_FETCHED=%d, IPT_DEDUP_HORIZON=%s",
                        minutes,
                        rate,
                        retainLast,
                        retainChampions,
                        retainFetched,
                        horizon),
                work.resolve("soak.png"));
        System.exit(result.ok() ? 0 : 1);
    }

    static String summary(SoakRun.Options options, SoakRun.Result result) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        out.printf(
                Locale.ROOT,
                "%nsoak: %.0f min at %.1f docs/s (%d acknowledged, %d failed sends), %d faults, settled in %.0f s%n",
                options.minutes(),
                options.docsPerSecond(),
                result.acknowledged(),
                result.failedSends(),
                result.recoveries().size(),
                result.settleSeconds());
        out.println("\nfaults:");
        out.printf("%8s  %-48s %10s  %s%n", "at (s)", "fault", "recovery", "how");
        for (SoakRecovery r : result.recoveries()) {
            out.printf(
                    Locale.ROOT,
                    "%8.0f  %-48s %10s  %s%n",
                    r.injectedAt(),
                    r.fault().kind().name().toLowerCase(Locale.ROOT) + " "
                            + r.fault().target(),
                    r.recovered() ? String.format(Locale.ROOT, "%.1f s", r.seconds()) : "NONE",
                    r.detail());
        }
        out.println("unplanned exits: " + (result.unplannedExits().isEmpty() ? "none" : result.unplannedExits()));
        out.println(
                "did not stop on SIGTERM in 30 s: " + (result.unstoppable().isEmpty() ? "none" : result.unstoppable()));
        SoakGrowth.Window window = SoakGrowth.Window.of(result.samples());
        out.println("\ngrowth in the window " + window.describe() + "; target: < 5%");
        out.println(SoakGrowth.header());
        for (String c : result.columns()) {
            if (c.endsWith("_fds") || c.startsWith("lag_")) continue;
            if (c.endsWith("_rss_mb")) {
                String process = c.substring(0, c.length() - "_rss_mb".length());
                List<Double> restarts = result.recoveries().stream()
                        .filter(r -> r.fault().target().equals(process))
                        .map(SoakRecovery::injectedAt)
                        .toList();
                SoakGrowth g = SoakGrowth.ofMemory(c, result.samples(), window, restarts);
                out.println(g != null ? g : String.format("%-30s no life long enough in the window", c));
            } else {
                SoakGrowth g = SoakGrowth.ofDisk(c, result.samples(), window);
                // The broker keeps the topics as their retention says: ipt.documents.curated forever, by design.
                out.println(c.equals("broker_data_mb") ? g + "  (topics, retained by design)" : g);
            }
        }
        out.println("\naccounting:");
        result.accounting().lines().forEach(l -> out.println("  " + l));
        List<String> failures = result.accounting().failures();
        out.println(failures.isEmpty() ? "  every check passed" : "  FAILED:");
        failures.stream().limit(50).forEach(f -> out.println("    " + f));
        out.println(result.ok() ? "\nsoak: OK" : "\nsoak: FAILED");
        return bytes.toString(StandardCharsets.UTF_8);
    }
}
