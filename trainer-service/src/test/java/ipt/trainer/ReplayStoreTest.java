package ipt.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ipt.trainer.TrainerConfig.Replay.Policy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.RocksDBException;

class ReplayStoreTest {
    /** A 3-token sequence is stored in 18 bytes (version, index, tokens). */
    private static final int ENTRY = 18;

    @TempDir
    Path dir;

    private static List<Packer.Sequence> sequences(String domain, int first, int n) {
        List<Packer.Sequence> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(new Packer.Sequence(domain, new int[] {(first + i) % 60000, 256, 7}));
        return out;
    }

    private static List<String> describe(ReplayStore store) throws RocksDBException {
        return store.entries().stream()
                .map(e -> e.domain() + "/" + e.version() + "/" + e.index() + "/" + e.tokens()[0])
                .toList();
    }

    @Test
    void eachReservoirIsAUniformSampleOfItsDomainsHistory() throws Exception {
        int n = 500;
        int k = 50;
        int seeds = 100;
        int[] perDecile = new int[10];
        for (int seed = 0; seed < seeds; seed++) {
            Path d = dir.resolve("s" + seed);
            try (ReplayStore store = ReplayStore.open(d, 0, (long) k * ENTRY, seed)) {
                for (int round = 0; round < 10; round++) store.add(round + 1, sequences("en", round * 50, 50));
                assertEquals(k, store.size());
                for (ReplayStore.Entry e : store.entries()) perDecile[e.tokens()[0] * 10 / n]++;
            }
        }
        // Every sequence is kept with probability k/n, early or late: 500 of 5,000 kept per decile (sd ~21).
        for (int decile = 0; decile < 10; decile++) {
            assertTrue(
                    Math.abs(perDecile[decile] - 500) < 100,
                    "decile " + decile + " kept " + perDecile[decile] + " times, expected ~500");
        }
    }

    @Test
    void domainsShareTheCapacityAndThePoliciesWeighThemDifferently() throws Exception {
        try (ReplayStore store = ReplayStore.open(dir, 0, 100L * ENTRY, 7)) {
            store.add(1, sequences("en", 0, 900));
            assertEquals(100, store.size(), "one domain fills the capacity");
            store.add(2, sequences("java", 1000, 100));
            List<ReplayStore.Reservoir> r = store.reservoirs();
            assertEquals(
                    List.of("en", "java"),
                    r.stream().map(ReplayStore.Reservoir::domain).toList());
            assertEquals(
                    List.of(50, 50),
                    r.stream().map(ReplayStore.Reservoir::size).toList(),
                    "a second domain halves the first's share");
            assertEquals(
                    List.of(900L, 100L),
                    r.stream().map(ReplayStore.Reservoir::seen).toList());
            assertTrue(r.stream().mapToLong(ReplayStore.Reservoir::bytes).sum() <= 100L * ENTRY);
            assertEquals(
                    50,
                    store.entries().stream()
                            .filter(e -> e.domain().equals("en"))
                            .map(e -> e.tokens()[0])
                            .distinct()
                            .count(),
                    "shrinking keeps distinct entries");

            double uniformEn = share(store.sample(4000, Policy.UNIFORM, new SplittableRandom(1)), "en");
            double balancedEn = share(store.sample(4000, Policy.DOMAIN_BALANCED, new SplittableRandom(1)), "en");
            assertEquals(0.9, uniformEn, 0.03, "uniform weighs en by its 900 of 1,000 sequences");
            assertEquals(0.5, balancedEn, 0.03, "domain-balanced weighs both alike");
        }
    }

    private static double share(List<ReplayStore.Entry> drawn, String domain) {
        return drawn.stream().filter(e -> e.domain().equals(domain)).count() / (double) drawn.size();
    }

    private static List<Packer.Sequence> round2() {
        List<Packer.Sequence> round = new ArrayList<>(sequences("en", 100, 30));
        round.addAll(sequences("de", 200, 5));
        return round;
    }

    @Test
    void openingAtACommittedVersionRestoresItsSnapshotAndForgetsLaterRounds() throws Exception {
        List<String> atV1;
        List<String> atV2;
        try (ReplayStore store = ReplayStore.open(dir, 0, 20L * ENTRY, 3)) {
            store.add(1, sequences("en", 0, 30));
            store.snapshot(1);
            store.dropSnapshotsBefore(1);
            atV1 = describe(store);
            store.add(2, round2());
            store.snapshot(2); // written, but the round's transaction never committed
            atV2 = describe(store);
            store.add(3, sequences("de", 300, 5)); // a round in flight when the process died
        }
        try (ReplayStore store = ReplayStore.open(dir, 1, 20L * ENTRY, 3)) {
            assertEquals(atV1, describe(store));
            assertFalse(
                    Files.exists(dir.resolve("snapshots").resolve("v000002")),
                    "the uncommitted round's snapshot is gone");
            store.add(2, round2());
            assertEquals(atV2, describe(store), "the same round again keeps the same sequences");
            Set<String> ids = store.entries().stream()
                    .map(e -> e.version() + "/" + e.index())
                    .collect(Collectors.toSet());
            assertEquals(store.size(), ids.size(), "no sequence twice");
        }
        assertThrows(
                RocksDBException.class,
                () -> ReplayStore.open(dir, 5, 20L * ENTRY, 3),
                "a committed version without its snapshot");
    }

    @Test
    void aStoreReopenedAfterEveryFewRoundsKeepsWhatAnUninterruptedOneKeeps() throws Exception {
        SplittableRandom data = new SplittableRandom(5);
        List<List<Packer.Sequence>> rounds = new ArrayList<>();
        for (int r = 0; r < 40; r++) {
            List<Packer.Sequence> round = new ArrayList<>();
            for (int i = 0; i < 30; i++)
                round.add(new Packer.Sequence(data.nextInt(3) == 0 ? "de" : "en", new int[] {r, i, data.nextInt(256)}));
            rounds.add(round);
        }
        List<String> uninterrupted;
        try (ReplayStore store = ReplayStore.open(dir.resolve("a"), 0, 64L * ENTRY, 9)) {
            for (int r = 0; r < rounds.size(); r++) {
                store.add(r + 1, rounds.get(r));
                store.snapshot(r + 1);
                store.dropSnapshotsBefore(r + 1);
            }
            uninterrupted = describe(store);
        }
        Path b = dir.resolve("b");
        int committed = 0;
        while (committed < rounds.size()) {
            try (ReplayStore store = ReplayStore.open(b, committed, 64L * ENTRY, 9)) {
                int crashAt = Math.min(rounds.size(), committed + 1 + data.nextInt(5));
                for (int r = committed; r < crashAt; r++) {
                    store.add(r + 1, rounds.get(r));
                    store.snapshot(r + 1);
                    store.dropSnapshotsBefore(r + 1);
                    committed = r + 1;
                }
                if (committed < rounds.size())
                    store.add(committed + 1, rounds.get(committed)); // the round a crash interrupts
            }
        }
        assertEquals(
                uninterrupted,
                ReplayStore.snapshotEntries(b, rounds.size()).stream()
                        .map(e -> e.domain() + "/" + e.version() + "/" + e.index() + "/" + e.tokens()[0])
                        .toList());
    }

    /**
     * A damaged snapshot is refused when the store opens, not found mid-round: flipped bytes in a table file (block
     * checksums), and a missing CURRENT file, which must not be taken for a new, empty store.
     */
    @Test
    void aDamagedSnapshotIsRefusedAtOpen() throws Exception {
        Path flipped = dir.resolve("flipped");
        Path headless = dir.resolve("headless");
        for (Path d : List.of(flipped, headless)) {
            try (ReplayStore store = ReplayStore.open(d, 0, 100 * ENTRY, 1)) {
                store.add(1, sequences("en", 0, 40));
                store.snapshot(1);
            }
            try (ReplayStore store = ReplayStore.open(d, 1, 100 * ENTRY, 1)) {
                assertEquals(40, store.size(), "an intact snapshot opens");
            }
        }
        Path snapshot = ReplayStore.snapshotDir(flipped, 1);
        List<Path> tables;
        try (var files = Files.list(snapshot)) {
            tables = files.filter(f -> f.toString().endsWith(".sst")).toList();
        }
        assertFalse(tables.isEmpty());
        for (Path table : tables) {
            byte[] bytes = Files.readAllBytes(table);
            for (int i = 0; i < 8; i++) bytes[bytes.length / 3 + i] ^= (byte) 0xFF;
            Files.write(table, bytes);
        }
        assertThrows(RocksDBException.class, () -> ReplayStore.open(flipped, 1, 100 * ENTRY, 1));
        Files.delete(ReplayStore.snapshotDir(headless, 1).resolve("CURRENT"));
        assertThrows(RocksDBException.class, () -> ReplayStore.open(headless, 1, 100 * ENTRY, 1));
    }
}
