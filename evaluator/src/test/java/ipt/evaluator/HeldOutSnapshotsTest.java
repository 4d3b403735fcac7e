package ipt.evaluator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ipt.model.Task;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HeldOutSnapshotsTest {
    @TempDir
    Path dir;

    @Test
    void aDomainBecomesATaskWhenItsBytesAreInAndStaysFrozen() throws Exception {
        HeldOutSnapshots snapshots = HeldOutSnapshots.open(dir, 20, 1);
        assertFalse(snapshots.add("en", "0123456789")); // 10 bytes
        assertFalse(snapshots.add("de", "abcd"));
        assertEquals(0, snapshots.current().version());
        assertTrue(snapshots.add("en", "ABCDEFGHIJKLMNOP")); // + EOS + 9 of 16 bytes = 20
        assertEquals(1, snapshots.current().version());
        assertEquals(
                Map.of("en", List.of("0123456789", "ABCDEFGHI")),
                snapshots.current().domains());
        assertFalse(snapshots.add("en", "more English"), "a frozen domain takes no more text");
        assertTrue(snapshots.add(
                "de", "äöü äöü äöü äöü äöü")); // 4 + EOS leaves 15 bytes: the 8th two-byte letter does not fit
        HeldOutSnapshots.Snapshot two = snapshots.current();
        assertEquals(2, two.version());
        assertEquals("heldout/de", two.newestTask());
        assertEquals(
                List.of("heldout/en", "heldout/de"),
                two.tasks().stream().map(Task::name).toList());
        String cut = two.domains().get("de").get(1);
        assertEquals(14, cut.getBytes(StandardCharsets.UTF_8).length);
        assertEquals("äöü äöü ", cut, "cut between characters, never inside one");

        HeldOutSnapshots reopened = HeldOutSnapshots.open(dir, 20, 1);
        assertEquals(two, reopened.current(), "a restart scores on the same frozen text");
        assertFalse(reopened.add("de", "different text that would otherwise count"));
    }

    @Test
    void everyDocumentContributesAtMostItsShareSoATaskRestsOnSeveralDocuments() throws Exception {
        HeldOutSnapshots snapshots = HeldOutSnapshots.open(null, 40, 4); // at most 10 bytes from any one document
        assertFalse(snapshots.add("java", "a long source file that would fill the snapshot alone"));
        assertFalse(snapshots.add("java", "second file, also long"));
        assertFalse(snapshots.add("java", "third"));
        assertFalse(snapshots.add("java", "fourth file, long"), "38 of 40 bytes (4 EOS between documents)");
        assertTrue(snapshots.add("java", "fifth"));
        assertEquals(
                List.of("a long sou", "second fil", "third", "fourth fil", "f"),
                snapshots.current().domains().get("java"));
    }

    @Test
    void aPrefixNeverSplitsACharacter() {
        assertEquals("a", HeldOutSnapshots.prefix("a€b", 3));
        assertEquals("a€", HeldOutSnapshots.prefix("a€b", 4));
        assertEquals("", HeldOutSnapshots.prefix("😀", 3));
        assertEquals("😀", HeldOutSnapshots.prefix("😀x", 4));
    }
}
