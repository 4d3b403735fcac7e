package ipt.ingest;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;

/**
 * How far earlier {@code ipt ingest} runs got, so a re-run after an interruption skips what was already
 * acknowledged. One line per progress note, {@code <lines acked>\t<size>\t<mtime ms>\t<absolute path>};
 * the last note of a file wins, and a half-written last line (the run was killed) is ignored. A file whose
 * size or mtime changed starts over: that is safe, because ids are deterministic and curation drops the
 * duplicates, only slower.
 */
public final class IngestJournal implements AutoCloseable {
    private record Key(Path file, long size, long modifiedMillis) {}

    private final Map<Key, Long> acked = new HashMap<>();
    private final BufferedWriter out;

    private IngestJournal(BufferedWriter out) {
        this.out = out;
    }

    public static IngestJournal open(Path journal) {
        try {
            Map<Key, Long> notes = new HashMap<>();
            if (Files.exists(journal)) {
                for (String line : Files.readAllLines(journal, StandardCharsets.UTF_8)) {
                    String[] parts = line.split("\t", 4);
                    if (parts.length < 4) continue;
                    try {
                        notes.put(
                                new Key(Path.of(parts[3]), Long.parseLong(parts[1]), Long.parseLong(parts[2])),
                                Long.parseLong(parts[0]));
                    } catch (NumberFormatException e) {
                        // a note cut short by a kill: the notes before it still count
                    }
                }
            }
            // Rewritten compacted, so the journal stays one line per file however often runs resume.
            Path tmp = journal.resolveSibling(journal.getFileName() + ".tmp");
            try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
                for (Map.Entry<Key, Long> e : notes.entrySet()) w.write(format(e.getKey(), e.getValue()));
            }
            Files.move(tmp, journal, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            IngestJournal opened = new IngestJournal(
                    Files.newBufferedWriter(journal, StandardCharsets.UTF_8, StandardOpenOption.APPEND));
            opened.acked.putAll(notes);
            return opened;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open ingest journal " + journal, e);
        }
    }

    /** Lines (or, for a text file, 1 for the whole file) of {@code file} already acknowledged in its current state. */
    synchronized long ackedLines(Path file) {
        Key key = keyOf(file);
        return key == null ? 0 : acked.getOrDefault(key, 0L);
    }

    /** Notes that every line of {@code file} up to {@code lines} is acknowledged (or reported as bad). */
    synchronized void note(Path file, long lines) {
        Key key = keyOf(file);
        if (key == null || acked.getOrDefault(key, 0L) >= lines) return;
        acked.put(key, lines);
        try {
            out.write(format(key, lines));
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the ingest journal", e);
        }
    }

    @Override
    public synchronized void close() {
        try {
            out.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Key keyOf(Path file) {
        try {
            Path absolute = file.toAbsolutePath().normalize();
            return new Key(
                    absolute,
                    Files.size(absolute),
                    Files.getLastModifiedTime(absolute).toMillis());
        } catch (IOException e) {
            return null;
        }
    }

    private static String format(Key key, long lines) {
        return lines + "\t" + key.size() + "\t" + key.modifiedMillis() + "\t" + key.file() + "\n";
    }
}
