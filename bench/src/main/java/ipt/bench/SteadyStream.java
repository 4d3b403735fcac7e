package ipt.bench;

import ipt.ingest.DocumentPublisher;
import ipt.schemas.Document;
import ipt.testsupport.SyntheticProse;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Documents written to ipt.documents.raw at a fixed rate, the domains in turn (distinct prose of each language), by
 * the idempotent acks=all publisher ingest uses. Sends wait out a broker restart (a long delivery timeout); what was
 * acknowledged is kept for the accounting.
 */
final class SteadyStream implements AutoCloseable {
    private final List<SyntheticProse> domains;
    private final double perSecond;
    private final int bytes;
    private final DocumentPublisher publisher;
    private final Set<String> acknowledged = ConcurrentHashMap.newKeySet();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong sent = new AtomicLong();
    private final Thread thread;
    private volatile boolean running = true;

    SteadyStream(Map<String, Object> kafka, List<SyntheticProse> domains, double perSecond, int bytes) {
        this.domains = domains;
        this.perSecond = perSecond;
        this.bytes = bytes;
        Map<String, Object> props = new HashMap<>(kafka);
        // A broker restart takes seconds to a minute: sends wait for it instead of failing.
        props.put("delivery.timeout.ms", (int) TimeUnit.MINUTES.toMillis(10));
        props.put("max.block.ms", TimeUnit.MINUTES.toMillis(10));
        this.publisher = new DocumentPublisher(props);
        this.thread = new Thread(this::run, "soak-stream");
    }

    void start() {
        thread.start();
    }

    private void run() {
        long start = System.nanoTime();
        long periodNanos = (long) (1e9 / perSecond);
        for (long i = 0; running; i++) {
            LockSupport.parkNanos(start + i * periodNanos - System.nanoTime());
            SyntheticProse.Doc d = domains.get((int) (i % domains.size())).document("soak-" + i, bytes, i);
            sent.incrementAndGet();
            publisher
                    .send(Document.newBuilder()
                            .setId(d.id())
                            .setDomain(d.domain())
                            .setText(d.text())
                            .setSource("soak")
                            .setIngestTime(Instant.now())
                            .setMetadata(Map.of())
                            .build())
                    .whenComplete((ok, error) -> {
                        if (error == null) acknowledged.add(d.id());
                        else failed.incrementAndGet();
                    });
        }
    }

    /** Stops sending and waits for the answers to everything sent. */
    @Override
    public void close() throws InterruptedException {
        running = false;
        thread.join();
        publisher.flush();
        publisher.close();
    }

    Set<String> acknowledged() {
        return Set.copyOf(acknowledged);
    }

    long sent() {
        return sent.get();
    }

    long failed() {
        return failed.get();
    }
}
