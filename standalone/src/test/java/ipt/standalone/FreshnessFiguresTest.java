package ipt.standalone;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ipt.evaluator.ServedFreshness.Served;
import java.util.List;
import org.junit.jupiter.api.Test;

class FreshnessFiguresTest {
    @Test
    void percentilesAreOverDocumentsNotOverArrivalSeconds() {
        // 19 documents served after 10 s, one after 500 s: p50 10 s, p95 (the 19th of 20) still 10 s.
        assertEquals(
                new FreshnessFigures(20, 10, 10), FreshnessFigures.of(List.of(new Served(500, 1), new Served(10, 19))));
        // 18 and 2: the 19th document is one of the late ones.
        assertEquals(
                new FreshnessFigures(20, 10, 500),
                FreshnessFigures.of(List.of(new Served(500, 2), new Served(10, 18))));
    }

    @Test
    void nothingServedHasNoPercentiles() {
        FreshnessFigures none = FreshnessFigures.of(List.of());
        assertEquals(0, none.documents());
        assertEquals(Double.NaN, none.p50());
    }
}
