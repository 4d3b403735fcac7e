package ipt.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ipt.schemas.ArrivalCount;
import java.util.List;
import org.junit.jupiter.api.Test;

class ArrivalTallyTest {
    @Test
    void countsDocumentsPerSecondOfArrivalOldestFirst() {
        ArrivalTally tally = new ArrivalTally();
        tally.add(5_999);
        tally.add(2_000);
        tally.add(5_000);
        tally.add(2_999);
        tally.add(-1); // a timestamp before the epoch falls in the second before it, not in second 0
        assertEquals(
                List.of(new ArrivalCount(-1L, 1), new ArrivalCount(2L, 2), new ArrivalCount(5L, 2)), tally.counts());
    }

    @Test
    void clearStartsTheNextRoundEmpty() {
        ArrivalTally tally = new ArrivalTally();
        tally.add(1_000);
        tally.clear();
        assertEquals(List.of(), tally.counts());
        tally.add(7_500);
        assertEquals(List.of(new ArrivalCount(7L, 1)), tally.counts());
    }
}
