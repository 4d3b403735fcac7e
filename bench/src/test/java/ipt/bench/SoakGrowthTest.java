package ipt.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.DoubleUnaryOperator;
import org.junit.jupiter.api.Test;

class SoakGrowthTest {
    /** An hour sampled every 10 s. */
    private static List<SoakSampler.Sample> hour(String column, DoubleUnaryOperator value) {
        List<SoakSampler.Sample> samples = new ArrayList<>();
        for (double t = 0; t <= 3600; t += 10)
            samples.add(new SoakSampler.Sample(t, Map.of(column, value.applyAsDouble(t))));
        return samples;
    }

    @Test
    void theWindowOfAnHourIsItsLast40Minutes() {
        SoakGrowth.Window w = SoakGrowth.Window.of(hour("x", t -> 1));
        assertEquals(1200, w.start());
        assertEquals(3600, w.end());
    }

    @Test
    void diskGrowthComparesTheWindowsFirstAndLastFiveMinutes() {
        List<SoakSampler.Sample> linear = hour("d", t -> 100 + t / 60); // +1 per minute
        SoakGrowth g = SoakGrowth.ofDisk("d", linear, SoakGrowth.Window.of(linear));
        assertEquals(100 + 1350 / 60.0, g.base(), 0.01); // median of 1200–1500 s
        assertEquals(100 + 3450 / 60.0, g.end(), 0.01);
        assertEquals(1.0, g.perMinute(), 1e-9);
    }

    @Test
    void eachLifeWarmsUpAgainAndTheLifeThatGrewMostCounts() {
        // Each life climbs for its first five minutes to a plateau; the life after the restart at 2000 s also creeps.
        List<SoakSampler.Sample> rss =
                hour("m", t -> t < 2000 ? Math.min(300, 100 + t) : Math.min(300, 100 + (t - 2000)) + (t - 2000) / 60);
        SoakGrowth.Window w = SoakGrowth.Window.of(rss);
        SoakGrowth g = SoakGrowth.ofMemory("m", rss, w, List.of(2000.0));
        assertEquals(2600, g.from()); // the restart's life after its ten-minute warm-up
        assertEquals(3600, g.to());
        assertEquals(100 * (300 + 1540 / 60.0 - (300 + 660 / 60.0)) / (300 + 660 / 60.0), g.percent(), 0.5);
        // Restarted 45 s before the end: no life has ten minutes after warm-up in the window but the first.
        SoakGrowth first = SoakGrowth.ofMemory("m", hour("m", t -> 300), w, List.of(3555.0));
        assertEquals(1200, first.from());
        assertEquals(0, first.percent(), 1e-9);
        assertNull(SoakGrowth.ofMemory("m", hour("m", t -> 300), w, List.of(1500.0, 2400.0, 3300.0)));
    }
}
