package ipt.bench;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;

/**
 * Every few seconds, one row: the resident memory (VmRSS) and open files of each process, the disk use of each kind
 * of data, and each consumer group's lag (end offset minus committed offset, read_committed: a caught-up
 * transactional consumer still shows one per partition, the transaction marker). Appended to a CSV as it goes.
 */
final class SoakSampler implements AutoCloseable {
    /** One row: seconds since the stream started, and each column's value (NaN where it could not be read). */
    record Sample(double seconds, Map<String, Double> values) {}

    private final SoakServices services;
    private final Map<String, List<Path>> disks;
    private final Map<String, String> groups;
    private final Admin admin;
    private final PrintWriter csv;
    private final List<String> columns = new ArrayList<>();
    private final List<Sample> samples = new CopyOnWriteArrayList<>();
    private final long t0;
    private final Thread thread;
    private volatile boolean running = true;

    /**
     * @param disks column name (without _mb) to the directories whose bytes it adds up
     * @param groups consumer group to the topic it reads
     */
    SoakSampler(
            SoakServices services,
            Map<String, List<Path>> disks,
            Map<String, String> groups,
            Map<String, Object> kafka,
            Path csvFile,
            long t0,
            long periodMillis)
            throws IOException {
        this.services = services;
        this.disks = disks;
        this.groups = groups;
        this.t0 = t0;
        Map<String, Object> props = new HashMap<>(kafka);
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 5000);
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 4000);
        this.admin = Admin.create(props);
        for (String s : services.names()) {
            columns.add(s + "_rss_mb");
            columns.add(s + "_fds");
        }
        disks.keySet().forEach(d -> columns.add(d + "_mb"));
        groups.keySet().forEach(g -> columns.add("lag_" + g));
        this.csv = new PrintWriter(Files.newBufferedWriter(csvFile, StandardCharsets.UTF_8));
        csv.println("seconds," + String.join(",", columns));
        csv.flush();
        this.thread = new Thread(
                () -> {
                    long next = System.nanoTime();
                    while (running) {
                        sample();
                        next += TimeUnit.MILLISECONDS.toNanos(periodMillis);
                        long wait = next - System.nanoTime();
                        if (wait > 0) java.util.concurrent.locks.LockSupport.parkNanos(wait);
                    }
                },
                "soak-sampler");
    }

    void start() {
        thread.start();
    }

    List<String> columns() {
        return List.copyOf(columns);
    }

    List<Sample> samples() {
        return List.copyOf(samples);
    }

    private void sample() {
        Map<String, Double> row = new LinkedHashMap<>();
        for (String s : services.names()) {
            OptionalLong pid = services.pid(s);
            row.put(s + "_rss_mb", pid.isPresent() ? rssMb(pid.getAsLong()) : Double.NaN);
            row.put(s + "_fds", pid.isPresent() ? openFiles(pid.getAsLong()) : Double.NaN);
        }
        disks.forEach((name, dirs) ->
                row.put(name + "_mb", dirs.stream().mapToLong(DiskUse::bytes).sum() / 1048576.0));
        groups.forEach((group, topic) -> row.put("lag_" + group, lag(group, topic)));
        double seconds = (System.nanoTime() - t0) / 1e9;
        samples.add(new Sample(seconds, row));
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%.1f", seconds));
        for (String c : columns) {
            double v = row.get(c);
            line.append(',').append(Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.2f", v));
        }
        csv.println(line);
        csv.flush();
    }

    private static double rssMb(long pid) {
        try (Stream<String> lines = Files.lines(Path.of("/proc", String.valueOf(pid), "status"))) {
            return lines.filter(l -> l.startsWith("VmRSS:"))
                    .mapToDouble(l -> Double.parseDouble(l.replaceAll("[^0-9]", "")) / 1024.0)
                    .findFirst()
                    .orElse(Double.NaN);
        } catch (IOException | RuntimeException exited) {
            return Double.NaN;
        }
    }

    private static double openFiles(long pid) {
        try (Stream<Path> fds = Files.list(Path.of("/proc", String.valueOf(pid), "fd"))) {
            return fds.count();
        } catch (IOException | RuntimeException exited) {
            return Double.NaN;
        }
    }

    /** Records the group has not committed past on its input topic and any other partition it committed. */
    private double lag(String group, String topic) {
        try {
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group)
                    .partitionsToOffsetAndMetadata()
                    .get(5, TimeUnit.SECONDS);
            Map<TopicPartition, OffsetSpec> request = new HashMap<>();
            admin.describeTopics(List.of(topic))
                    .allTopicNames()
                    .get(5, TimeUnit.SECONDS)
                    .get(topic)
                    .partitions()
                    .forEach(p -> request.put(new TopicPartition(topic, p.partition()), OffsetSpec.latest()));
            committed.keySet().forEach(tp -> request.put(tp, OffsetSpec.latest()));
            long lag = 0;
            for (var end : admin.listOffsets(request, new ListOffsetsOptions(IsolationLevel.READ_COMMITTED))
                    .all()
                    .get(5, TimeUnit.SECONDS)
                    .entrySet()) {
                OffsetAndMetadata c = committed.get(end.getKey());
                lag += Math.max(0, end.getValue().offset() - (c == null ? 0 : c.offset()));
            }
            return lag;
        } catch (Exception brokerDown) {
            return Double.NaN;
        }
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        thread.interrupt();
        thread.join();
        csv.close();
        admin.close();
    }
}
