package ipt.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class HeldOutSplitTest {
    @Test
    void isDeterministicAndCloseToTheFraction() {
        int n = 10_000;
        int heldOut = 0;
        for (int i = 0; i < n; i++) {
            String id = "document-" + i;
            boolean first = CurationTopology.isHeldOut(id, 0.05);
            assertEquals(first, CurationTopology.isHeldOut(id, 0.05), id);
            if (first) heldOut++;
        }
        // Binomial(10k, 0.05) has a standard deviation of about 22: 5 of them either side.
        assertTrue(Math.abs(heldOut - 500) < 110, "held out " + heldOut + " of " + n);
    }

    @Test
    void growingTheFractionOnlyAddsDocuments() {
        for (int i = 0; i < 2_000; i++) {
            String id = "id-" + i;
            if (CurationTopology.isHeldOut(id, 0.05)) assertTrue(CurationTopology.isHeldOut(id, 0.2), id);
        }
    }

    @Test
    void zeroAndOneAreNoneAndAll() {
        for (int i = 0; i < 1_000; i++) {
            assertFalse(CurationTopology.isHeldOut("x" + i, 0.0));
            assertTrue(CurationTopology.isHeldOut("x" + i, 1.0));
        }
    }

    @Test
    void dependsOnTheIdOnly() {
        assertEquals(CurationTopology.isHeldOut("doc-42", 0.5), CurationTopology.isHeldOut(new String("doc-42"), 0.5));
        assertTrue(CurationTopology.isHeldOut("", 1.0));
    }
}
