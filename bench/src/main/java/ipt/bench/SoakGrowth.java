package ipt.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * How much one sampled series grew over the measuring window: the last 40 minutes of a run of an hour or more (the
 * issue's target), else its last two thirds. Disk: the median of the window's first five minutes against the median
 * of its last five (medians, as retention and compaction draw saw-teeth). Resident memory: per life of the process, as
 * a fault restarts it and its memory warms up again: in each life's part of the window after its first ten minutes,
 * the median of the first two minutes against the median of the last two; a life with less than ten minutes there is
 * not judged, and the series's growth is that of the life that grew most. Shorter runs scale these spans down.
 */
record SoakGrowth(String column, double base, double end, double percent, double perMinute, double from, double to) {
    /** The window's spans, in seconds. */
    record Window(double start, double end, double warmUp, double shortest, double diskEdge, double memoryEdge) {
        static Window of(List<SoakSampler.Sample> samples) {
            double last =
                    samples.isEmpty() ? 0 : samples.get(samples.size() - 1).seconds();
            double length = last >= 3600 ? 2400 : last * 2 / 3;
            return new Window(
                    last - length,
                    last,
                    Math.min(600, length / 4),
                    Math.min(600, length / 4),
                    Math.min(300, length / 8),
                    Math.min(120, length / 10));
        }

        String describe() {
            return String.format(
                    Locale.ROOT,
                    "%.0f–%.0f s (disk: median of the first and last %.0f s; memory: per process life, after its first "
                            + "%.0f s, median of the first and last %.0f s of at least %.0f s)",
                    start,
                    end,
                    diskEdge,
                    warmUp,
                    memoryEdge,
                    shortest);
        }
    }

    /** A disk series: the window as one span. */
    static SoakGrowth ofDisk(String column, List<SoakSampler.Sample> samples, Window w) {
        return of(column, samples, w.start(), w.end(), w.diskEdge());
    }

    /**
     * A process's resident memory; {@code restarts} are the moments (seconds) a fault stopped it: each begins a new
     * life. Null when no life has a judged span in the window.
     */
    static SoakGrowth ofMemory(String column, List<SoakSampler.Sample> samples, Window w, List<Double> restarts) {
        List<Double> starts = new ArrayList<>(List.of(0.0));
        restarts.stream().sorted().forEach(starts::add);
        SoakGrowth most = null;
        for (int i = 0; i < starts.size(); i++) {
            double from = Math.max(w.start(), starts.get(i) + w.warmUp());
            double to = i + 1 < starts.size() ? Math.min(w.end(), starts.get(i + 1)) : w.end();
            if (to - from < w.shortest()) continue;
            SoakGrowth life = of(column, samples, from, to, w.memoryEdge());
            if (most == null || life.percent() > most.percent()) most = life;
        }
        return most;
    }

    private static SoakGrowth of(String column, List<SoakSampler.Sample> samples, double from, double to, double edge) {
        double base = median(samples, column, from, from + edge);
        double end = median(samples, column, to - edge, to);
        double n = 0;
        double sx = 0;
        double sy = 0;
        double sxx = 0;
        double sxy = 0;
        for (SoakSampler.Sample s : samples) {
            double v = s.values().getOrDefault(column, Double.NaN);
            if (s.seconds() < from || s.seconds() > to || Double.isNaN(v)) continue;
            double x = s.seconds() / 60;
            n++;
            sx += x;
            sy += v;
            sxx += x * x;
            sxy += x * v;
        }
        double slope = n > 1 ? (n * sxy - sx * sy) / (n * sxx - sx * sx) : Double.NaN;
        return new SoakGrowth(column, base, end, 100 * (end - base) / base, slope, from, to);
    }

    private static double median(List<SoakSampler.Sample> samples, String column, double from, double to) {
        double[] values = samples.stream()
                .filter(s -> s.seconds() >= from && s.seconds() <= to)
                .mapToDouble(s -> s.values().getOrDefault(column, Double.NaN))
                .filter(v -> !Double.isNaN(v))
                .sorted()
                .toArray();
        return values.length == 0 ? Double.NaN : values[values.length / 2];
    }

    @Override
    public String toString() {
        return String.format(
                Locale.ROOT,
                "%-30s %10.1f %10.1f %+8.1f%% %+10.2f/min %6.0f–%.0f s",
                column,
                base,
                end,
                percent,
                perMinute,
                from,
                to);
    }

    static String header() {
        return String.format("%-30s %10s %10s %9s %15s %s", "series", "first", "last", "growth", "slope", "  span");
    }
}
