package ipt.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class StreamThreadDeathsTest {
    @Test
    void deathsInARowOnOneRecordMarkTheServiceStuck() throws Exception {
        StreamThreadDeaths deaths = new StreamThreadDeaths();
        for (int i = 0; i < StreamThreadDeaths.STUCK_AFTER; i++) {
            assertTrue(deaths.stuck().isEmpty(), "after " + i + " deaths");
            Thread t = new Thread(() -> {
                deaths.processing("ipt.documents.raw", 2, 41);
                assertEquals(Optional.of("ipt.documents.raw-2@41"), deaths.died());
            });
            t.start();
            t.join();
        }
        assertEquals(Optional.of("3 stream-thread deaths in a row on ipt.documents.raw-2@41"), deaths.stuck());
        deaths.processing("ipt.documents.raw", 2, 42);
        deaths.died();
        assertTrue(deaths.stuck().isEmpty(), "a death on another record: the partition moved on");
    }

    @Test
    void aDeathOutsideARecordOrAfterOneIsNotCharged() {
        StreamThreadDeaths deaths = new StreamThreadDeaths();
        deaths.processing("ipt.documents.raw", 0, 7);
        deaths.done();
        assertTrue(deaths.died().isEmpty());
    }
}
