package ipt.evaluator;

import com.fasterxml.jackson.databind.ObjectMapper;
import ipt.model.Task;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Held-out text per domain, frozen into versioned snapshots so that a candidate and its champion, and the
 * champions of a lineage over time, are always scored on identical data. A domain becomes a task once
 * {@code tokensPerDomain} UTF-8 bytes of its held-out documents have arrived (EOS between documents counts
 * one), each document contributing at most {@code tokensPerDomain / minDocuments} bytes so that a task measures
 * the domain rather than one or two long files: those bytes, every document cut at a character boundary, are frozen
 * for good in a new snapshot
 * version, which holds every earlier domain unchanged. Snapshots are written to {@code dir} (none: memory only)
 * and read back at start, so a restarted evaluator keeps scoring on the same text.
 */
final class HeldOutSnapshots {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Frozen held-out documents per domain, in the order the domains became tasks, at one version (0: none yet). */
    record Snapshot(long version, Map<String, List<String>> domains) {
        Snapshot {
            domains = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(domains));
        }

        /** The task of the domain that became one last, or null in an empty snapshot. */
        String newestTask() {
            String newest = null;
            for (String domain : domains.keySet()) newest = domain;
            return newest == null ? null : taskName(newest);
        }

        List<Task> tasks() {
            List<Task> tasks = new ArrayList<>();
            domains.forEach((domain, documents) -> tasks.add(new Task.Text(taskName(domain), documents)));
            return tasks;
        }
    }

    private final Path dir;
    private final int tokensPerDomain;
    private final int perDocument;
    private Snapshot current = new Snapshot(0, Map.of());
    private final Map<String, List<String>> pending = new TreeMap<>();
    private final Map<String, Integer> pendingBytes = new TreeMap<>();

    private HeldOutSnapshots(Path dir, int tokensPerDomain, int minDocuments) {
        this.dir = dir;
        this.tokensPerDomain = tokensPerDomain;
        this.perDocument = (tokensPerDomain + minDocuments - 1) / minDocuments;
    }

    static String taskName(String domain) {
        return "heldout/" + domain;
    }

    /** Opens the snapshots under {@code dir} (created if missing; null keeps them in memory only). */
    static HeldOutSnapshots open(Path dir, int tokensPerDomain, int minDocuments) throws IOException {
        if (tokensPerDomain < 2)
            throw new IllegalArgumentException("held-out tokens per domain must be at least 2, is " + tokensPerDomain);
        if (minDocuments < 1)
            throw new IllegalArgumentException("held-out documents per domain must be at least 1, is " + minDocuments);
        HeldOutSnapshots snapshots = new HeldOutSnapshots(dir, tokensPerDomain, minDocuments);
        if (dir != null) {
            Files.createDirectories(dir);
            Path latest = null;
            try (Stream<Path> files = Files.list(dir)) {
                latest = files.filter(f -> f.getFileName().toString().matches("snapshot-\\d{6}\\.json"))
                        .sorted()
                        .reduce((a, b) -> b)
                        .orElse(null);
            }
            if (latest != null) snapshots.current = read(latest);
        }
        return snapshots;
    }

    synchronized Snapshot current() {
        return current;
    }

    /** Adds a held-out document; returns true when it completed a domain and so made a new snapshot. */
    synchronized boolean add(String domain, String text) throws IOException {
        if (current.domains().containsKey(domain)) return false;
        int bytes = pendingBytes.getOrDefault(domain, 0);
        List<String> documents = pending.computeIfAbsent(domain, d -> new ArrayList<>());
        if (!documents.isEmpty()) bytes++; // the EOS before this document
        int room = tokensPerDomain - bytes;
        int take = Math.min(room, perDocument);
        String part = prefix(text, take);
        documents.add(part);
        int total = bytes + part.getBytes(StandardCharsets.UTF_8).length;
        pendingBytes.put(domain, total);
        // Full when the bytes are in, or when the last document had to be cut between characters short of them.
        if (total < tokensPerDomain && (take < room || part.length() == text.length())) return false;
        Map<String, List<String>> domains = new LinkedHashMap<>(current.domains());
        domains.put(domain, List.copyOf(documents));
        Snapshot next = new Snapshot(current.version() + 1, domains);
        if (dir != null) write(next);
        current = next;
        pending.remove(domain);
        pendingBytes.remove(domain);
        return true;
    }

    /** The longest prefix of {@code text} that is at most {@code bytes} UTF-8 bytes and ends between characters. */
    static String prefix(String text, int bytes) {
        int used = 0;
        int end = 0;
        while (end < text.length()) {
            int cp = text.codePointAt(end);
            int size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            if (used + size > bytes) break;
            used += size;
            end += Character.charCount(cp);
        }
        return text.substring(0, end);
    }

    private void write(Snapshot snapshot) throws IOException {
        Path file = dir.resolve(String.format("snapshot-%06d.json", snapshot.version()));
        Path tmp = dir.resolve(file.getFileName() + ".tmp");
        Files.write(
                tmp,
                JSON.writerWithDefaultPrettyPrinter()
                        .writeValueAsBytes(Map.of(
                                "version",
                                snapshot.version(),
                                "tokensPerDomain",
                                tokensPerDomain,
                                "domains",
                                snapshot.domains())));
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    @SuppressWarnings("unchecked")
    private static Snapshot read(Path file) throws IOException {
        Map<String, Object> json = JSON.readValue(file.toFile(), Map.class);
        return new Snapshot(
                ((Number) json.get("version")).longValue(), (Map<String, List<String>>) json.get("domains"));
    }
}
