package ipt.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OrphanCheckpointsTest {
    @TempDir
    Path root;

    private void dir(String name) throws IOException {
        Files.createDirectories(root.resolve(name));
        Files.writeString(root.resolve(name).resolve("params.bin"), "x");
    }

    @Test
    void removesVersionsAfterTheLastCommittedOneAndHalfWrittenDirectories() throws IOException {
        for (String name : List.of("v000001", "v000002", "v000003", "v000004", ".v000004.tmp-123", "notes")) dir(name);
        assertEquals(List.of(".v000004.tmp-123", "v000003", "v000004"), OrphanCheckpoints.remove(root, 2));
        try (Stream<Path> left = Files.list(root)) {
            assertEquals(
                    List.of("notes", "v000001", "v000002"),
                    left.map(p -> p.getFileName().toString()).sorted().toList());
        }
    }

    @Test
    void withNothingCommittedEveryVersionIsAnOrphanAndAMissingRootIsFine() throws IOException {
        dir("v000001");
        assertEquals(List.of("v000001"), OrphanCheckpoints.remove(root, 0));
        assertEquals(List.of(), OrphanCheckpoints.remove(root.resolve("absent"), 0));
    }
}
