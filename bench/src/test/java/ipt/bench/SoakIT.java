package ipt.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The soak in short (README "Soak"): the same processes and code as `bench/run Soak`, two minutes of stream with each
 * fault once (a trainer, the evaluator and curation killed with SIGKILL, the broker restarted, S3Proxy killed during a
 * checkpoint upload, a trainer's replay store deleted). Every fault is recovered from without help, no process exits
 * by itself, and the accounting is exact. Memory and disk are sampled and plotted, not judged: two minutes say
 * nothing about flatness.
 */
class SoakIT {
    /** Kept after the run for whoever has to find out why it failed; cleaned at the start. */
    private final Path work = Path.of("target", "soak-it").toAbsolutePath();

    @Test
    void everyFaultIsRecoveredFromAndEveryDocumentAndCheckpointIsAccountedFor() throws Exception {
        SoakRun.Options options = new SoakRun.Options(
                work,
                2,
                2,
                600,
                20,
                6,
                5,
                3,
                2,
                "10m",
                Duration.ofSeconds(10),
                Duration.ofMinutes(3),
                Duration.ofMinutes(5),
                Duration.ofSeconds(5));
        SoakRun.Result result = new SoakRun(options, System.out).run();
        String summary = Soak.summary(options, result);
        System.out.print(summary);
        SoakChart.draw(result.samples(), result.columns(), result.recoveries(), "SoakIT", work.resolve("soak.png"));

        assertEquals(
                Arrays.stream(SoakFault.Kind.values()).collect(Collectors.toSet()),
                result.recoveries().stream().map(r -> r.fault().kind()).collect(Collectors.toSet()),
                "every kind of fault");
        for (SoakRecovery r : result.recoveries())
            assertTrue(r.recovered(), r.fault().describe() + ": " + r.detail() + "\n" + summary);
        assertEquals(Set.of(), Set.copyOf(result.unplannedExits()), summary);
        assertEquals(Set.of(), Set.copyOf(result.unstoppable()), "stopped on SIGTERM within 30 s\n" + summary);
        assertTrue(result.accounting().ok(), summary);
        assertTrue(result.acknowledged() >= 200, "documents acknowledged: " + result.acknowledged());
        assertEquals(0, result.failedSends(), summary);
        assertTrue(result.samples().size() >= 10, "samples: " + result.samples().size());
        assertTrue(Files.size(work.resolve("samples.csv")) > 0 && Files.size(work.resolve("soak.png")) > 10_000);
    }
}
