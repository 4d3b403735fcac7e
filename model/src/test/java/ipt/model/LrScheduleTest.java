package ipt.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LrScheduleTest {

    private static final TrainConfig C = TrainConfig.defaults(); // max 1e-3, min 1e-4, warmup 20

    @Test
    void warmsUpThenDecaysToMinAtTheRoundsEnd() {
        assertEquals(1e-3f / 20, LrSchedule.at(0, 200, C), 1e-9f);
        assertEquals(1e-3f, LrSchedule.at(19, 200, C), 1e-9f);
        assertEquals(1e-3f, LrSchedule.at(20, 200, C), 1e-9f);
        assertEquals(1e-4f, LrSchedule.at(199, 200, C), 1e-9f);
        assertEquals(1e-4f, LrSchedule.at(250, 200, C), 1e-9f);
        for (int s = 21; s < 200; s++) {
            assertTrue(LrSchedule.at(s, 200, C) <= LrSchedule.at(s - 1, 200, C), "monotone decay at " + s);
        }
    }

    @Test
    void shortRoundsWarmUpForAQuarterOfTheirSteps() {
        assertEquals(1e-3f / 5, LrSchedule.at(0, 20, C), 1e-9f);
        assertEquals(1e-3f, LrSchedule.at(4, 20, C), 1e-9f);
        assertEquals(1e-4f, LrSchedule.at(19, 20, C), 1e-9f);
        assertEquals(1e-3f, LrSchedule.at(0, 1, C), 1e-9f);
    }

    @Test
    void wsdWarmsUpOnceHoldsAndAnnealsOnlyBeforeEachCheckpoint() {
        assertEquals(1e-3f / 20, LrSchedule.wsd(0, 0, 50, 10, C), 1e-9f);
        assertEquals(1e-3f, LrSchedule.wsd(19, 19, 50, 10, C), 1e-9f);
        assertEquals(1e-3f, LrSchedule.wsd(39, 39, 50, 10, C), 1e-9f);
        assertEquals(1e-3f - 9e-4f / 10, LrSchedule.wsd(40, 40, 50, 10, C), 1e-9f);
        assertEquals(1e-4f, LrSchedule.wsd(49, 49, 50, 10, C), 1e-9f);
        assertEquals(
                1e-3f,
                LrSchedule.wsd(50, 0, 50, 10, C),
                1e-9f,
                "the next round continues at the stable rate, no re-warm");
        assertEquals(
                1e-3f, LrSchedule.wsd(5000, 3, 8, 10, C), 1e-9f, "short rounds anneal for at most half their steps");
        assertEquals(1e-4f, LrSchedule.wsd(5000, 7, 8, 10, C), 1e-9f);
        for (int s = 41; s < 50; s++)
            assertTrue(LrSchedule.wsd(s, s, 50, 10, C) < LrSchedule.wsd(s - 1, s - 1, 50, 10, C));
    }

    @Test
    void theSqrtCooldownLeavesTheStableRateFasterAndEndsAtMin() {
        assertEquals(1e-3f, LrSchedule.wsdSqrt(39, 39, 50, 10, C), 1e-9f);
        float first = LrSchedule.wsdSqrt(40, 40, 50, 10, C);
        assertEquals(1e-4f + 9e-4f * (1 - Math.sqrt(0.1)), first, 1e-9f);
        assertTrue(first < LrSchedule.wsd(40, 40, 50, 10, C), "below the linear anneal at the same step");
        assertEquals(1e-4f, LrSchedule.wsdSqrt(49, 49, 50, 10, C), 1e-9f);
        assertEquals(1e-3f, LrSchedule.wsdSqrt(50, 0, 50, 10, C), 1e-9f, "the next round continues at the stable rate");
        assertEquals(
                1e-3f / 20, LrSchedule.wsdSqrt(0, 0, 50, 10, C), 1e-9f, "one warmup over the lineage's first steps");
        for (int s = 41; s < 50; s++)
            assertTrue(LrSchedule.wsdSqrt(s, s, 50, 10, C) < LrSchedule.wsdSqrt(s - 1, s - 1, 50, 10, C));
    }
}
