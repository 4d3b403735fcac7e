package ipt.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import ipt.bench.ContinualPretraining.Point;
import ipt.bench.ContinualPretraining.Result;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;

/** Held-out loss of every domain after every round, one line per arm (mean over seeds), phases marked: a PNG. */
final class LossCurves {
    private static final Color[] COLORS = {
        new Color(0xd62728),
        new Color(0xff7f0e),
        new Color(0x2ca02c),
        new Color(0x1f77b4),
        new Color(0x7f7f7f),
        new Color(0x9467bd),
        new Color(0x8c564b),
        new Color(0x17becf),
        new Color(0xbcbd22),
        Color.BLACK
    };
    private static final int PANEL_W = 620;
    private static final int PANEL_H = 400;
    private static final int MARGIN = 60;

    private LossCurves() {}

    static void draw(List<Result> results, int phaseSteps, Path png) throws Exception {
        Map<String, List<Result>> byArm = new LinkedHashMap<>();
        results.forEach(
                r -> byArm.computeIfAbsent(r.arm(), k -> new ArrayList<>()).add(r));
        int legendH = 22 * byArm.size() + 30;
        List<String> domains = ContinualPretraining.DOMAINS;
        BufferedImage image = new BufferedImage(2 * PANEL_W, 2 * PANEL_H + legendH, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, image.getWidth(), image.getHeight());
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        for (int d = 0; d < domains.size(); d++)
            panel(g, (d % 2) * PANEL_W, (d / 2) * PANEL_H, domains.get(d), byArm, phaseSteps);
        int i = 0;
        for (String arm : byArm.keySet()) {
            int y = 2 * PANEL_H + 20 + 22 * i;
            g.setColor(COLORS[i % COLORS.length]);
            g.setStroke(stroke(i++));
            g.drawLine(MARGIN, y - 4, MARGIN + 40, y - 4);
            g.setColor(Color.BLACK);
            g.drawString(arm + (byArm.get(arm).get(0).defaults() ? " (the defaults)" : ""), MARGIN + 50, y);
        }
        g.drawString(
                String.format(
                        Locale.ROOT,
                        "x: step; phases of %d steps: %s, then %s; mean of %d seed(s)",
                        phaseSteps,
                        String.join(", ", domains),
                        ContinualPretraining.INTERLEAVED,
                        results.stream().mapToLong(Result::seed).distinct().count()),
                PANEL_W + MARGIN,
                2 * PANEL_H + 20);
        g.dispose();
        ImageIO.write(image, "png", png.toFile());
    }

    /** Solid for the first ten arms, dashed for the next ten: past ten arms, colours repeat. */
    private static BasicStroke stroke(int arm) {
        return arm < COLORS.length
                ? new BasicStroke(2)
                : new BasicStroke(2, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10, new float[] {8, 5}, 0);
    }

    /** Redraws a run's plot from the results.json it wrote: {@code bench/run LossCurves results.json losses.png}. */
    public static void main(String[] args) throws Exception {
        JsonNode run = new ObjectMapper().readTree(Path.of(args[0]).toFile());
        List<Result> results = new ObjectMapper().readerForListOf(Result.class).readValue(run.get("results"));
        draw(results, run.get("phaseSteps").asInt(), Path.of(args[1]));
    }

    private static void panel(
            Graphics2D g, int x0, int y0, String domain, Map<String, List<Result>> byArm, int phaseSteps) {
        double lo = Double.MAX_VALUE;
        double hi = -Double.MAX_VALUE;
        int maxStep = 1;
        for (List<Result> rs : byArm.values()) {
            for (Result r : rs) {
                for (Point p : r.curve()) {
                    lo = Math.min(lo, p.loss().get(domain));
                    hi = Math.max(hi, p.loss().get(domain));
                    maxStep = Math.max(maxStep, p.step());
                }
            }
        }
        double pad = (hi - lo) * 0.05 + 1e-6;
        lo -= pad;
        hi += pad;
        int left = x0 + MARGIN;
        int right = x0 + PANEL_W - 20;
        int top = y0 + 40;
        int bottom = y0 + PANEL_H - 40;
        g.setColor(Color.BLACK);
        g.drawString(domain + " held-out loss (nats/byte)", left, y0 + 25);
        g.setStroke(new BasicStroke(1));
        g.drawRect(left, top, right - left, bottom - top);
        for (int t = 0; t <= 5; t++) {
            double v = lo + (hi - lo) * t / 5;
            int y = bottom - (int) ((bottom - top) * t / 5.0);
            g.setColor(new Color(0xe0e0e0));
            g.drawLine(left + 1, y, right - 1, y);
            g.setColor(Color.BLACK);
            g.drawString(String.format(Locale.ROOT, "%.2f", v), x0 + 15, y + 5);
        }
        for (int s = 0; s <= maxStep; s += phaseSteps) {
            int x = left + (int) ((right - left) * (double) s / maxStep);
            g.setColor(new Color(0xb0b0b0));
            g.drawLine(x, top, x, bottom);
            g.setColor(Color.BLACK);
            g.drawString(String.valueOf(s), x - 10, bottom + 18);
        }
        int i = 0;
        for (List<Result> rs : byArm.values()) {
            g.setColor(COLORS[i % COLORS.length]);
            g.setStroke(stroke(i++));
            Result first = rs.get(0);
            int px = -1;
            int py = -1;
            for (int k = 0; k < first.curve().size(); k++) {
                final int at = k;
                double mean = rs.stream()
                        .mapToDouble(r -> r.curve().get(at).loss().get(domain))
                        .average()
                        .orElse(Double.NaN);
                int x = left
                        + (int) ((right - left) * (double) first.curve().get(k).step() / maxStep);
                int y = bottom - (int) Math.round((bottom - top) * (mean - lo) / (hi - lo));
                if (px >= 0) g.drawLine(px, py, x, y);
                px = x;
                py = y;
            }
        }
    }
}
