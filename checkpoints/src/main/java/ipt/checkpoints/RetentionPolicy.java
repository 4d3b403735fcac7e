package ipt.checkpoints;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Which checkpoints of a lineage the store keeps: the {@code last} newest, the {@code champions} most recent
 * champions (rollback targets), the champion now, versions held by hand or by a promotion under way, and every
 * version not judged yet (newer than the last decision: pending or still being written). The rest may go.
 *
 * @param last newest checkpoints kept, whatever their verdict
 * @param champions most recent distinct champions kept, the current one included
 * @param fetched checkpoints a reader's cache of a remote store keeps besides the champion
 */
public record RetentionPolicy(int last, int champions, int fetched) {
    public static final int LAST = 5;
    public static final int CHAMPIONS = 10;
    public static final int FETCHED = 2;

    public RetentionPolicy {
        if (last < 1 || champions < 1 || fetched < 1)
            throw new IllegalArgumentException(
                    "retention keeps at least one of each: " + last + ", " + champions + ", " + fetched);
    }

    public static RetentionPolicy defaults() {
        return new RetentionPolicy(LAST, CHAMPIONS, FETCHED);
    }

    /** What is kept and what may be deleted of the versions a store holds. */
    public record Plan(TreeSet<Long> keep, TreeSet<Long> delete) {}

    /**
     * @param stored the versions the store holds
     * @param lastJudged the newest version decided (−1: none); newer ones are pending and kept
     * @param championHistory every promotion's version in the order they happened (manual ones too)
     * @param champion the version the committed champion pointer names (null: none)
     * @param held versions pinned or being promoted
     */
    public Plan plan(
            Collection<Long> stored, long lastJudged, List<Long> championHistory, Long champion, Set<Long> held) {
        TreeSet<Long> all = new TreeSet<>(stored);
        TreeSet<Long> keep = new TreeSet<>();
        all.descendingSet().stream().limit(last).forEach(keep::add);
        all.tailSet(lastJudged, false).forEach(keep::add);
        if (champion != null) keep.add(champion);
        List<Long> recent = new ArrayList<>(championHistory);
        java.util.Collections.reverse(recent);
        recent.stream().distinct().limit(champions).forEach(keep::add);
        keep.addAll(held);
        keep.retainAll(all);
        TreeSet<Long> delete = new TreeSet<>(all);
        delete.removeAll(keep);
        return new Plan(keep, delete);
    }
}
