package ipt.bench;

import ipt.runtime.DirectoryTree;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Injects the soak's faults into the running processes and waits for the pipeline to recover without help: a trainer
 * is back when it commits a checkpoint, the evaluator when it publishes a report, curation when it curates a document;
 * after a broker restart or an S3 outage, when all of them have.
 */
final class FaultInjector {
    /** How the soak starts a service again: with the same settings, waiting until it is ready where that is seen. */
    interface Starter {
        void start(String service) throws Exception;
    }

    private final SoakServices services;
    private final Starter starter;
    private final PipelineEvents events;
    private final List<String> lineages;
    private final Path s3Bucket;
    private final Path trainers;
    private final Duration s3Outage;
    private final Duration timeout;
    private final long t0;

    FaultInjector(
            SoakServices services,
            Starter starter,
            PipelineEvents events,
            List<String> lineages,
            Path s3Bucket,
            Path trainers,
            Duration s3Outage,
            Duration timeout,
            long t0) {
        this.services = services;
        this.starter = starter;
        this.events = events;
        this.lineages = lineages;
        this.s3Bucket = s3Bucket;
        this.trainers = trainers;
        this.s3Outage = s3Outage;
        this.timeout = timeout;
        this.t0 = t0;
    }

    SoakRecovery inject(SoakFault fault) throws Exception {
        double injectedAt = (System.nanoTime() - t0) / 1e9;
        String detail = "";
        List<String> awaited = new ArrayList<>();
        switch (fault.kind()) {
            case TRAINER_KILL -> {
                services.kill(fault.target());
                starter.start(fault.target());
                awaited.add(PipelineEvents.checkpoint(lineageOf(fault.target())));
            }
            case REPLAY_LOST -> {
                String lineage = lineageOf(fault.target());
                services.kill(fault.target());
                Path replay = trainers.resolve(lineage).resolve("replay").resolve(lineage);
                detail = "deleted " + DiskUse.bytes(replay) / 1024 + " KiB of replay store; ";
                DirectoryTree.delete(replay);
                starter.start(fault.target());
                awaited.add(PipelineEvents.checkpoint(lineage));
            }
            case EVALUATOR_KILL -> {
                services.kill(fault.target());
                starter.start(fault.target());
                awaited.add(PipelineEvents.EVALUATION);
            }
            case CURATION_KILL -> {
                services.kill(fault.target());
                starter.start(fault.target());
                awaited.add(PipelineEvents.CURATED);
            }
            case BROKER_RESTART -> {
                boolean clean = services.stop(fault.target(), Duration.ofSeconds(60));
                detail = clean ? "stopped cleanly; " : "killed after 60 s; ";
                starter.start(fault.target());
                awaited.add(PipelineEvents.CURATED);
                awaited.add(PipelineEvents.EVALUATION);
                lineages.forEach(l -> awaited.add(PipelineEvents.checkpoint(l)));
            }
            case S3_OUTAGE -> {
                Optional<String> upload = awaitUpload(Duration.ofSeconds(120));
                services.kill(fault.target());
                detail = upload.map(u -> "killed during the upload of " + u)
                                .orElse("killed (no upload seen within 120 s)")
                        + ", down " + s3Outage.toSeconds() + " s; ";
                Thread.sleep(s3Outage.toMillis());
                starter.start(fault.target());
                awaited.add(PipelineEvents.EVALUATION);
                lineages.forEach(l -> awaited.add(PipelineEvents.checkpoint(l)));
            }
        }
        long back = System.nanoTime();
        long deadline = back + timeout.toNanos();
        long last = back;
        for (String kind : awaited) {
            long at;
            while ((at = events.firstAfter(kind, back)) < 0 && System.nanoTime() < deadline) Thread.sleep(200);
            if (at < 0) return new SoakRecovery(fault, injectedAt, -1, detail + "no " + kind + " within " + timeout);
            last = Math.max(last, at);
        }
        return new SoakRecovery(fault, injectedAt, (last - back) / 1e9, detail + "then: " + String.join(", ", awaited));
    }

    private static String lineageOf(String trainer) {
        return trainer.substring("trainer-".length());
    }

    /**
     * Waits for a checkpoint being uploaded: a version directory in S3Proxy's bucket (its filesystem backend) without
     * the manifest's sha256 yet, which the store uploads last.
     */
    private Optional<String> awaitUpload(Duration within) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        while (System.nanoTime() < deadline) {
            for (String lineage : lineages) {
                Path dir = s3Bucket.resolve(lineage);
                Optional<Path> newest = newestVersion(dir);
                if (newest.isPresent() && !Files.exists(newest.get().resolve("manifest.sha256")))
                    return Optional.of(lineage + "/" + newest.get().getFileName());
            }
            Thread.sleep(2);
        }
        return Optional.empty();
    }

    private static Optional<Path> newestVersion(Path dir) {
        if (!Files.isDirectory(dir)) return Optional.empty();
        try (Stream<Path> versions = Files.list(dir)) {
            return versions.filter(p -> p.getFileName().toString().matches("v\\d{6}"))
                    .max(Comparator.comparing(p -> p.getFileName().toString()));
        } catch (IOException | UncheckedIOException raced) {
            return Optional.empty(); // a version deleted by retention while listed: look again
        }
    }
}
