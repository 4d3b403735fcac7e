package ipt.bench;

import java.util.List;

/**
 * How much one sampled series grew over the last two thirds of a run: the median of the minute around the one-third
 * mark against the median of the last minute, and the least-squares slope over those two thirds.
 */
record SoakGrowth(String column, double base, double end, double percent, double perMinute) {
    static SoakGrowth of(String column, List<SoakSampler.Sample> samples) {
        double last = samples.isEmpty() ? 0 : samples.get(samples.size() - 1).seconds();
        double mark = last / 3;
        double base = median(samples, column, mark - 30, mark + 30);
        double end = median(samples, column, last - 60, last + 1);
        double n = 0;
        double sx = 0;
        double sy = 0;
        double sxx = 0;
        double sxy = 0;
        for (SoakSampler.Sample s : samples) {
            double v = s.values().getOrDefault(column, Double.NaN);
            if (s.seconds() < mark || Double.isNaN(v)) continue;
            double x = s.seconds() / 60;
            n++;
            sx += x;
            sy += v;
            sxx += x * x;
            sxy += x * v;
        }
        double slope = n > 1 ? (n * sxy - sx * sy) / (n * sxx - sx * sx) : Double.NaN;
        return new SoakGrowth(column, base, end, 100 * (end - base) / base, slope);
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
                java.util.Locale.ROOT,
                "%-30s %10.1f %10.1f %+8.1f%% %+10.2f/min",
                column,
                base,
                end,
                percent,
                perMinute);
    }

    static String header() {
        return String.format("%-30s %10s %10s %9s %15s", "series", "at 1/3", "at end", "growth", "slope (2/3)");
    }
}
