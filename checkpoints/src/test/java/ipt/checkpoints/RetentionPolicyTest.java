package ipt.checkpoints;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

class RetentionPolicyTest {
    private static List<Long> versions(long from, long to) {
        return LongStream.rangeClosed(from, to).boxed().toList();
    }

    private static TreeSet<Long> set(Long... versions) {
        return new TreeSet<>(List.of(versions));
    }

    @Test
    void keepsTheLastNAndDeletesTheRest() {
        var plan = new RetentionPolicy(3, 2, 1).plan(versions(1, 10), 10, List.of(), null, Set.of());
        assertEquals(set(8L, 9L, 10L), plan.keep());
        assertEquals(new TreeSet<>(versions(1, 7)), plan.delete());
    }

    @Test
    void keepsTheMostRecentChampionsAsRollbackTargets() {
        // Promoted 1, 3, 5, then a manual rollback to 3 and 7: the two most recent distinct are 7 and 3.
        var plan = new RetentionPolicy(2, 2, 1).plan(versions(1, 12), 12, List.of(1L, 3L, 5L, 3L, 7L), 7L, Set.of());
        assertEquals(set(3L, 7L, 11L, 12L), plan.keep());
    }

    @Test
    void theCommittedChampionIsKeptEvenPastTheChampionCount() {
        // The pointer names 2 (a rollback whose promotion this history does not show yet): it stays.
        var plan = new RetentionPolicy(1, 1, 1).plan(versions(1, 6), 6, List.of(4L), 2L, Set.of());
        assertEquals(set(2L, 4L, 6L), plan.keep());
    }

    @Test
    void pinnedAndPendingVersionsAreKept() {
        // Judged up to 5; 6..9 are published or being written and not judged yet.
        var plan = new RetentionPolicy(2, 1, 1).plan(versions(1, 9), 5, List.of(3L), 3L, Set.of(1L));
        assertEquals(set(1L, 3L, 6L, 7L, 8L, 9L), plan.keep());
        assertEquals(set(2L, 4L, 5L), plan.delete());
    }

    @Test
    void versionsNotInTheStoreAreNeitherKeptNorDeleted() {
        var plan = new RetentionPolicy(2, 5, 1).plan(List.of(8L, 9L, 10L), 10, List.of(1L, 2L), 2L, Set.of(4L));
        assertEquals(set(9L, 10L), plan.keep());
        assertEquals(set(8L), plan.delete());
    }

    @Test
    void nothingJudgedYetDeletesNothing() {
        var plan = new RetentionPolicy(1, 1, 1).plan(versions(1, 4), -1, List.of(), null, Set.of());
        assertEquals(new TreeSet<>(versions(1, 4)), plan.keep());
    }

    @Test
    void keepsAtLeastOneOfEach() {
        assertThrows(IllegalArgumentException.class, () -> new RetentionPolicy(0, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> new RetentionPolicy(1, 0, 1));
    }
}
