package ipt.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class LineageStateTest {
    @Test
    void theConfiguredFractionIsTheBaseTheRecoveriesAddTo() {
        LineageState raised = LineageState.initial(0.25).recovered(0.35, 4);
        assertEquals(0.35, raised.replayFraction(), 1e-12);
        LineageState rebased = raised.rebased(0.3, 0.5);
        assertEquals(0.3, rebased.configuredFraction());
        assertEquals(0.4, rebased.replayFraction(), 1e-12, "the lineage's own raise of 0.1 stays on the new base");
        assertEquals(4, rebased.lastResetAfter());
        assertEquals(1, rebased.resets());
        assertEquals(0.5, raised.rebased(0.45, 0.5).replayFraction(), 1e-12, "raises stop at IPT_MAX_REPLAY_FRACTION");
        assertEquals(
                0.6, raised.rebased(0.6, 0.5).replayFraction(), 1e-12, "the cap never lowers a configured fraction");
        assertEquals(
                0.0,
                LineageState.initial(0.25).rebased(0.0, 0.5).replayFraction(),
                "without resets the configuration wins");
    }

    @Test
    void anUnchangedConfigurationLeavesTheStateAsItWas() {
        LineageState raised = LineageState.initial(0.25).recovered(0.35, 4);
        assertSame(raised, raised.rebased(0.25, 0.5));
    }

    @Test
    void theStateRoundTripsAndOlderStatesReadTheirFractionAsConfigured() {
        LineageState raised = LineageState.initial(0.25).recovered(0.35, 4);
        assertEquals(raised, LineageState.parse(raised.bytes()));
        LineageState old = LineageState.parse(
                "replayFraction=0.35\nlastResetAfter=4\nresets=1\n".getBytes(StandardCharsets.ISO_8859_1));
        assertEquals(LineageState.initial(0.35).recovered(0.35, 4), old);
        assertEquals(
                0.25,
                old.rebased(0.25, 0.5).replayFraction(),
                "before this change the base was not kept: the configuration wins");
    }
}
