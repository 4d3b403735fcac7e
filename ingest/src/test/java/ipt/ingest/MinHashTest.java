package ipt.ingest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class MinHashTest {
    private static final String A =
            "The committee approved the proposal after a long debate on the budget of the agency, and the"
                    + " members asked the commission to report on the results of the programme before the "
                    + "end of next year. Several speakers"
                    + " said that the money should go first to the regions where unemployment is highest, "
                    + "and that the rules for small"
                    + " firms must be made simpler, because today many of them give up before they have "
                    + "even filled in the forms. The"
                    + " rapporteur thanked the shadow rapporteurs for their cooperation and said she hoped "
                    + "for a large majority tomorrow.";

    private final MinHash minHash = new MinHash(MinHash.Config.defaults());

    /** Exact Jaccard similarity of the two texts' shingle sets. */
    private double jaccard(String x, String y) {
        long[] sx = minHash.shingleHashes(x);
        long[] sy = minHash.shingleHashes(y);
        int common = 0;
        for (long s : sx) if (Arrays.binarySearch(sy, s) >= 0) common++;
        int union = sx.length + sy.length - common;
        return union == 0 ? 1 : (double) common / union;
    }

    /** MinHash's estimate of it: the share of equal signature entries. */
    private static double similarity(long[] x, long[] y) {
        int same = 0;
        for (int i = 0; i < x.length; i++) if (x[i] == y[i]) same++;
        return (double) same / x.length;
    }

    @Test
    void sameTextSameSignatureInEveryInstance() {
        assertArrayEquals(minHash.signature(A), new MinHash(MinHash.Config.defaults()).signature(A));
        assertEquals(112, minHash.signature(A).length);
        assertEquals(14, minHash.bandKeys(minHash.signature(A)).size());
    }

    @Test
    void signatureAgreementEstimatesJaccard() {
        String edited = A.replace("long debate", "short debate").replace("next year", "this year");
        String other = "Die Sitzung wird um neun Uhr eröffnet, und wir beginnen mit der Aussprache über den "
                + "Bericht des Ausschusses.";
        for (String b : List.of(edited, other, A.substring(0, 120))) {
            double exact = jaccard(A, b);
            double estimate = similarity(minHash.signature(A), minHash.signature(b));
            // 112 hashes: the estimate's standard deviation is at most 0.05.
            assertEquals(exact, estimate, 0.15, "estimate for: " + b);
        }
    }

    @Test
    void casingAndPunctuationDoNotMakeANewDocument() {
        assertEquals(1.0, jaccard(A, A.toUpperCase().replace(",", " ;")));
    }

    @Test
    void bandKeysCollideForNearCopiesOnly() {
        // About 100 words: one edited word changes 5 of ~95 shingles, J ≈ 0.9, a shared band with probability > 0.99.
        List<String> keys = minHash.bandKeys(minHash.signature(A));
        List<String> near = minHash.bandKeys(minHash.signature(A.replace("budget", "budgets")));
        List<String> far = minHash.bandKeys(
                minHash.signature("Completely different words about fishing quotas in the North Sea and"
                        + " the future of coastal communities that depend on them for their living."));
        assertTrue(keys.stream().anyMatch(near::contains), "a one-word edit shares a band");
        assertTrue(keys.stream().noneMatch(far::contains), "unrelated text shares none");
        assertNotEquals(keys, near);
    }
}
