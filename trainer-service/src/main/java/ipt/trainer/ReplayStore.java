package ipt.trainer;

import ipt.runtime.DirectoryTree;
import ipt.trainer.TrainerConfig.Replay.Policy;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SortedMap;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.rocksdb.Checkpoint;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;

/**
 * Old training sequences kept to be replayed beside new data: one reservoir per domain (Algorithm R), so
 * each holds a uniform sample of every sequence its domain ever contributed, within a byte capacity the
 * domains share equally. The live store is snapshotted (a RocksDB checkpoint: hard links) with every
 * training checkpoint, and {@link #open} restores the snapshot of the last committed one, so a round that
 * never committed leaves no trace. Every draw depends only on the seed, the domain and the sequence's
 * position in it, so a resumed trainer keeps exactly the sequences an uninterrupted one keeps.
 */
public final class ReplayStore implements AutoCloseable {
    private static final byte META = 'r';
    private static final byte SLOT = 's';
    private static final String LIVE = "live";
    private static final String SNAPSHOTS = "snapshots";

    static {
        RocksDB.loadLibrary();
    }

    /** A stored sequence; {@code version} and {@code index} name the round that added it and its place there. */
    public record Entry(String domain, long version, int index, int[] tokens) {}

    /** One domain's reservoir: sequences it was offered, slots filled, bytes of each entry. */
    record Reservoir(String domain, long seen, int size, int entryBytes) {
        long bytes() {
            return (long) size * entryBytes;
        }
    }

    private final Path dir;
    private final long capacityBytes;
    private final long seed;
    private final Options options;
    private final RocksDB db;
    private final TreeMap<String, Reservoir> reservoirs = new TreeMap<>();

    private ReplayStore(Path dir, long capacityBytes, long seed, boolean create) throws RocksDBException {
        this.dir = dir;
        this.capacityBytes = capacityBytes;
        this.seed = seed;
        // A restored snapshot must open as it is: never replaced by a new empty store if its files are gone.
        options = new Options().setCreateIfMissing(create).setParanoidChecks(true);
        RocksDB opened = null;
        try {
            opened = RocksDB.open(options, dir.resolve(LIVE).toString());
            // Damage in a table file shows only when it is read: read every block now, not mid-round.
            opened.verifyChecksum();
        } catch (RocksDBException e) {
            if (opened != null) opened.close();
            options.close();
            throw e;
        }
        db = opened;
        try (RocksIterator it = db.newIterator()) {
            for (it.seek(new byte[] {META}); it.isValid() && it.key()[0] == META; it.next()) {
                String domain = new String(it.key(), 1, it.key().length - 1, StandardCharsets.UTF_8);
                ByteBuffer v = ByteBuffer.wrap(it.value());
                reservoirs.put(domain, new Reservoir(domain, v.getLong(), v.getInt(), v.getInt()));
            }
        }
    }

    /**
     * The store as of checkpoint {@code committedVersion} (empty for 0): snapshots of other versions, which
     * belong to rounds that never committed or are superseded, are deleted. Fails if that snapshot is missing or
     * damaged (then {@link Lineage} rebuilds the store from the curated topic).
     */
    static ReplayStore open(Path dir, long committedVersion, long capacityBytes, long seed) throws RocksDBException {
        Path snapshots = dir.resolve(SNAPSHOTS);
        Path committed = snapshots.resolve(name(committedVersion));
        try {
            Files.createDirectories(snapshots);
            DirectoryTree.delete(dir.resolve(LIVE));
            try (Stream<Path> all = Files.list(snapshots)) {
                for (Path p : all.toList()) if (!p.equals(committed)) DirectoryTree.delete(p);
            }
            if (committedVersion > 0) {
                if (!Files.isDirectory(committed)) {
                    throw new RocksDBException("replay store snapshot of committed checkpoint v" + committedVersion
                            + " is missing: " + committed);
                }
                linkOrCopy(committed, dir.resolve(LIVE));
            }
        } catch (IOException e) {
            throw new RocksDBException("cannot prepare replay store in " + dir + ": " + e);
        }
        return new ReplayStore(dir, capacityBytes, seed, committedVersion == 0);
    }

    /** An empty store in {@code dir}, whatever was there before; to rebuild a lost one into. */
    static ReplayStore empty(Path dir, long capacityBytes, long seed) throws RocksDBException {
        try {
            DirectoryTree.delete(dir);
        } catch (IOException e) {
            throw new RocksDBException("cannot clear replay store in " + dir + ": " + e);
        }
        return open(dir, 0, capacityBytes, seed);
    }

    /** Offers a round's new sequences to their domains' reservoirs. */
    void add(long version, List<Packer.Sequence> sequences) throws RocksDBException {
        for (int i = 0; i < sequences.size(); i++) {
            Packer.Sequence s = sequences.get(i);
            byte[] value = value(version, i, s.tokens());
            if (!reservoirs.containsKey(s.domain())) {
                reservoirs.put(s.domain(), new Reservoir(s.domain(), 0, 0, value.length));
                shrinkTo(slots(value.length));
            }
            Reservoir r = reservoirs.get(s.domain());
            long seen = r.seen() + 1;
            int k = slots(value.length);
            int size = r.size();
            if (size < k) {
                db.put(slotKey(s.domain(), size++), value);
            } else {
                long j = draw(s.domain(), seen, 0)
                        .nextLong(seen); // Algorithm R: keep the seen-th with probability k/seen
                if (j < k) db.put(slotKey(s.domain(), (int) j), value);
            }
            put(new Reservoir(s.domain(), seen, size, value.length));
        }
    }

    /**
     * {@code n} entries drawn with replacement: {@code UNIFORM} weighs each domain by the sequences it
     * contributed, as if drawing from the whole history; {@code DOMAIN_BALANCED} weighs domains equally; {@code
     * STEERED},
     * drawn without the gate's shares, draws as {@code UNIFORM}.
     */
    List<Entry> sample(int n, Policy policy, SplittableRandom random) throws RocksDBException {
        List<Reservoir> filled =
                reservoirs.values().stream().filter(r -> r.size() > 0).toList();
        if (filled.isEmpty()) throw new IllegalStateException("nothing to replay yet");
        long total = filled.stream()
                .mapToLong(r -> policy == Policy.DOMAIN_BALANCED ? 1 : r.seen())
                .sum();
        List<Entry> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            long pick = random.nextLong(total);
            Reservoir chosen = filled.get(filled.size() - 1);
            for (Reservoir r : filled) {
                long weight = policy == Policy.DOMAIN_BALANCED ? 1 : r.seen();
                if (pick < weight) {
                    chosen = r;
                    break;
                }
                pick -= weight;
            }
            out.add(get(chosen.domain(), random.nextInt(chosen.size())));
        }
        return out;
    }

    /**
     * {@code n} entries drawn with replacement, domain by {@code shares} (a domain the map lacks is not drawn); for
     * the {@code STEERED} policy.
     */
    List<Entry> sample(int n, SortedMap<String, Double> shares, SplittableRandom random) throws RocksDBException {
        List<Reservoir> filled = reservoirs.values().stream()
                .filter(r -> r.size() > 0 && shares.getOrDefault(r.domain(), 0.0) > 0)
                .toList();
        if (filled.isEmpty()) throw new IllegalStateException("nothing to replay from " + shares);
        double total = filled.stream().mapToDouble(r -> shares.get(r.domain())).sum();
        List<Entry> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            double pick = random.nextDouble() * total;
            Reservoir chosen = filled.get(filled.size() - 1);
            for (Reservoir r : filled) {
                double weight = shares.get(r.domain());
                if (pick < weight) {
                    chosen = r;
                    break;
                }
                pick -= weight;
            }
            out.add(get(chosen.domain(), random.nextInt(chosen.size())));
        }
        return out;
    }

    /** The domains with something to replay, in name order. */
    List<String> domains() {
        return reservoirs.values().stream()
                .filter(r -> r.size() > 0)
                .map(Reservoir::domain)
                .toList();
    }

    /** The sequences each domain with something to replay contributed so far, in name order. */
    SortedMap<String, Long> seen() {
        SortedMap<String, Long> out = new TreeMap<>();
        reservoirs.values().stream().filter(r -> r.size() > 0).forEach(r -> out.put(r.domain(), r.seen()));
        return out;
    }

    /** Writes the store as it is now to a snapshot for checkpoint {@code version}; atomic by rename. */
    void snapshot(long version) throws RocksDBException {
        Path target = dir.resolve(SNAPSHOTS).resolve(name(version));
        Path tmp = dir.resolve(SNAPSHOTS).resolve("." + name(version) + ".tmp");
        try {
            DirectoryTree.delete(tmp);
            DirectoryTree.delete(target);
            try (Checkpoint checkpoint = Checkpoint.create(db)) {
                checkpoint.createCheckpoint(tmp.toString());
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new RocksDBException("cannot snapshot replay store for v" + version + ": " + e);
        }
    }

    /** Deletes the snapshots older than {@code version}, once the round of {@code version} committed. */
    void dropSnapshotsBefore(long version) {
        try (Stream<Path> all = Files.list(dir.resolve(SNAPSHOTS))) {
            for (Path p : all.toList()) {
                String n = p.getFileName().toString();
                if (n.matches("v\\d{6,}") && Long.parseLong(n.substring(1)) < version) DirectoryTree.delete(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    long size() {
        return reservoirs.values().stream().mapToLong(Reservoir::size).sum();
    }

    List<Reservoir> reservoirs() {
        return List.copyOf(reservoirs.values());
    }

    /** Every entry, domain by domain; for audits and tests. */
    List<Entry> entries() throws RocksDBException {
        List<Entry> out = new ArrayList<>();
        for (Reservoir r : reservoirs.values())
            for (int slot = 0; slot < r.size(); slot++) out.add(get(r.domain(), slot));
        return out;
    }

    /** Slots per domain: the capacity shared equally by the domains seen so far, at least one each. */
    private int slots(int entryBytes) {
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, capacityBytes / ((long) reservoirs.size() * entryBytes)));
    }

    /**
     * Cuts every reservoir to {@code k} slots by keeping a uniformly random k-subset (a partial Fisher-Yates
     * shuffle), which is again a uniform sample of the domain's history.
     */
    private void shrinkTo(int k) throws RocksDBException {
        for (Reservoir r : List.copyOf(reservoirs.values())) {
            if (r.size() <= k) continue;
            SplittableRandom random = draw(r.domain(), r.seen(), 1);
            for (int i = 0; i < k; i++) {
                int j = i + random.nextInt(r.size() - i);
                if (j == i) continue;
                byte[] a = db.get(slotKey(r.domain(), i));
                db.put(slotKey(r.domain(), i), db.get(slotKey(r.domain(), j)));
                db.put(slotKey(r.domain(), j), a);
            }
            db.deleteRange(slotKey(r.domain(), k), slotKey(r.domain(), r.size()));
            put(new Reservoir(r.domain(), r.seen(), k, r.entryBytes()));
        }
    }

    private void put(Reservoir r) throws RocksDBException {
        reservoirs.put(r.domain(), r);
        db.put(
                metaKey(r.domain()),
                ByteBuffer.allocate(16)
                        .putLong(r.seen())
                        .putInt(r.size())
                        .putInt(r.entryBytes())
                        .array());
    }

    private SplittableRandom draw(String domain, long seen, int purpose) {
        return new SplittableRandom(
                seed * 0x9E3779B97F4A7C15L + domain.hashCode() * 0xC2B2AE3D27D4EB4FL + seen * 31 + purpose);
    }

    /** The entries of the snapshot taken with checkpoint {@code version}, read without changing it; for audits. */
    public static List<Entry> snapshotEntries(Path dir, long version) throws RocksDBException {
        List<Entry> out = new ArrayList<>();
        try (Options readOnly = new Options();
                RocksDB snapshot = RocksDB.openReadOnly(
                        readOnly, dir.resolve(SNAPSHOTS).resolve(name(version)).toString());
                RocksIterator it = snapshot.newIterator()) {
            for (it.seek(new byte[] {SLOT}); it.isValid() && it.key()[0] == SLOT; it.next()) {
                byte[] key = it.key();
                out.add(entry(new String(key, 1, key.length - 6, StandardCharsets.UTF_8), it.value()));
            }
        }
        return out;
    }

    private Entry get(String domain, int slot) throws RocksDBException {
        byte[] bytes = db.get(slotKey(domain, slot));
        if (bytes == null) throw new RocksDBException("replay entry " + domain + "/" + slot + " is missing");
        return entry(domain, bytes);
    }

    private static Entry entry(String domain, byte[] bytes) {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        long version = in.getLong();
        int index = in.getInt();
        return new Entry(
                domain, version, index, Packer.decodeTokens(Arrays.copyOfRange(bytes, in.position(), bytes.length)));
    }

    private static byte[] metaKey(String domain) {
        byte[] d = domain.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(1 + d.length).put(META).put(d).array();
    }

    /** Slots sort by domain, then by slot number (big-endian), so a range delete cuts one reservoir's tail. */
    private static byte[] slotKey(String domain, int slot) {
        byte[] d = domain.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(1 + d.length + 1 + 4)
                .put(SLOT)
                .put(d)
                .put((byte) 0)
                .putInt(slot)
                .array();
    }

    private static byte[] value(long version, int index, int[] tokens) {
        byte[] t = Packer.encodeTokens(tokens);
        return ByteBuffer.allocate(8 + 4 + t.length)
                .putLong(version)
                .putInt(index)
                .put(t)
                .array();
    }

    /** Where the snapshot of checkpoint {@code version} lies under a store's directory. */
    static Path snapshotDir(Path dir, long version) {
        return dir.resolve(SNAPSHOTS).resolve(name(version));
    }

    private static String name(long version) {
        return String.format("v%06d", version);
    }

    /** SST files are immutable, so a snapshot and the live store may share them; the rest is copied. */
    private static void linkOrCopy(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : files.toList()) {
                Path target = to.resolve(f.getFileName());
                if (f.getFileName().toString().endsWith(".sst")) {
                    Files.createLink(target, f);
                } else {
                    Files.copy(f, target);
                }
            }
        }
    }

    @Override
    public void close() {
        db.close();
        options.close();
    }
}
