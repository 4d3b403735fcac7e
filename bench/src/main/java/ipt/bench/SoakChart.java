package ipt.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * The soak's samples as a PNG: resident memory and open files of each process, disk use of each kind of data and
 * consumer lag per group, over minutes, with the faults marked (drawn with Java2D, as LossCurves draws).
 */
final class SoakChart {
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
    private static final int PANEL_W = 700;
    private static final int PANEL_H = 420;
    private static final int MARGIN = 70;
    private static final int LEGEND_W = 190;

    private SoakChart() {}

    static void draw(
            List<SoakSampler.Sample> samples, List<String> columns, List<SoakRecovery> faults, String title, Path png)
            throws Exception {
        BufferedImage image = new BufferedImage(2 * (PANEL_W + LEGEND_W), 2 * PANEL_H + 40, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, image.getWidth(), image.getHeight());
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        g.setColor(Color.BLACK);
        g.drawString(title, MARGIN, 22);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        int w = PANEL_W + LEGEND_W;
        panel(g, 0, 40, "resident memory (MB)", "_rss_mb", samples, columns, faults);
        panel(
                g,
                w,
                40,
                "disk (MB)",
                "_mb",
                samples,
                columns.stream().filter(c -> !c.endsWith("_rss_mb")).toList(),
                faults);
        panel(g, 0, 40 + PANEL_H, "open files", "_fds", samples, columns, faults);
        panel(g, w, 40 + PANEL_H, "consumer lag (records)", "lag_", samples, columns, faults);
        g.dispose();
        ImageIO.write(image, "png", png.toFile());
    }

    private static void panel(
            Graphics2D g,
            int x0,
            int y0,
            String title,
            String marker,
            List<SoakSampler.Sample> samples,
            List<String> columns,
            List<SoakRecovery> faults) {
        List<String> series = columns.stream()
                .filter(c -> marker.startsWith("lag_") ? c.startsWith(marker) : c.endsWith(marker))
                .toList();
        double hi = 1;
        double maxT = 1;
        for (SoakSampler.Sample s : samples) {
            maxT = Math.max(maxT, s.seconds() / 60);
            for (String c : series) {
                double v = s.values().getOrDefault(c, Double.NaN);
                if (!Double.isNaN(v)) hi = Math.max(hi, v);
            }
        }
        hi *= 1.05;
        int left = x0 + MARGIN;
        int right = x0 + PANEL_W - 20;
        int top = y0 + 30;
        int bottom = y0 + PANEL_H - 40;
        g.setColor(Color.BLACK);
        g.drawString(title, left, y0 + 20);
        g.setStroke(new BasicStroke(1));
        g.drawRect(left, top, right - left, bottom - top);
        for (int t = 0; t <= 5; t++) {
            double v = hi * t / 5;
            int y = bottom - (int) ((bottom - top) * t / 5.0);
            g.setColor(new Color(0xe0e0e0));
            g.drawLine(left + 1, y, right - 1, y);
            g.setColor(Color.BLACK);
            g.drawString(String.format(Locale.ROOT, "%.0f", v), x0 + 10, y + 5);
        }
        int ticks = (int) Math.ceil(maxT / 10.0) <= 1 ? 1 : 10;
        for (int m = 0; m <= maxT; m += ticks) {
            int x = left + (int) ((right - left) * m / maxT);
            g.drawString(String.valueOf(m), x - 5, bottom + 15);
        }
        g.drawString("minutes", right - 50, bottom + 30);
        g.setStroke(new BasicStroke(1, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10, new float[] {4, 4}, 0));
        for (int k = 0; k < faults.size(); k++) {
            SoakRecovery f = faults.get(k);
            int x = left + (int) ((right - left) * f.injectedAt() / 60 / maxT);
            g.setColor(new Color(0x909090));
            g.drawLine(x, top, x, bottom);
            g.drawString(label(f.fault()), x + 2, top + 12 + 13 * (k % 3)); // staggered: neighbours do not overlap
        }
        for (int i = 0; i < series.size(); i++) {
            String c = series.get(i);
            g.setColor(COLORS[i % COLORS.length]);
            g.setStroke(new BasicStroke(
                    2,
                    BasicStroke.CAP_BUTT,
                    BasicStroke.JOIN_MITER,
                    10,
                    i < COLORS.length ? null : new float[] {8, 5},
                    0));
            int px = -1;
            int py = -1;
            for (SoakSampler.Sample s : samples) {
                double v = s.values().getOrDefault(c, Double.NaN);
                if (Double.isNaN(v)) {
                    px = -1; // a gap while the process was down
                    continue;
                }
                int x = left + (int) ((right - left) * s.seconds() / 60 / maxT);
                int y = bottom - (int) Math.round((bottom - top) * v / hi);
                if (px >= 0) g.drawLine(px, py, x, y);
                px = x;
                py = y;
            }
            int ly = top + 10 + 18 * i;
            g.drawLine(right + 10, ly - 4, right + 35, ly - 4);
            g.setColor(Color.BLACK);
            g.drawString(c.replace(marker, "").replace("_mb", ""), right + 40, ly);
        }
    }

    private static String label(SoakFault f) {
        return switch (f.kind()) {
            case TRAINER_KILL -> "kill " + f.target().replace("trainer-", "");
            case EVALUATOR_KILL -> "kill eval";
            case CURATION_KILL -> "kill cur";
            case BROKER_RESTART -> "broker";
            case S3_OUTAGE -> "s3";
            case REPLAY_LOST -> "replay " + f.target().replace("trainer-", "");
        };
    }
}
