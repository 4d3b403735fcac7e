package ipt.bench;

import ipt.bench.ContinualPretraining.Phase1;
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
import java.util.function.ToDoubleFunction;
import javax.imageio.ImageIO;

/** Held-out loss of both domains through phase 2, one line per arm (mean over seeds), baselines dashed: a PNG. */
final class LossCurves {
  private static final Color[] COLORS = {new Color(0xd62728), new Color(0xff7f0e), new Color(0x2ca02c), new Color(0x1f77b4),
      new Color(0x7f7f7f), new Color(0x9467bd), new Color(0x8c564b), new Color(0x17becf), new Color(0xbcbd22)};
  private static final int PANEL_W = 620;
  private static final int PANEL_H = 440;
  private static final int MARGIN = 60;

  private LossCurves() {}

  static void draw(List<Result> results, Map<Long, Phase1> phase1, Path png) throws Exception {
    Map<String, List<Result>> byArm = new LinkedHashMap<>();
    results.forEach(r -> byArm.computeIfAbsent(r.arm(), k -> new ArrayList<>()).add(r));
    int legendH = 22 * byArm.size() + 20;
    BufferedImage image = new BufferedImage(2 * PANEL_W, PANEL_H + legendH, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = image.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, image.getWidth(), image.getHeight());
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
    panel(g, 0, ContinualPretraining.A + " (phase 1) held-out loss", byArm, Point::a, Result::a);
    panel(g, PANEL_W, ContinualPretraining.B + " (phase 2) held-out loss", byArm, Point::b, Result::b);
    int i = 0;
    for (String arm : byArm.keySet()) {
      int y = PANEL_H + 20 + 22 * i;
      boolean baseline = byArm.get(arm).get(0).curve().isEmpty();
      g.setColor(COLORS[i++ % COLORS.length]);
      g.setStroke(stroke(baseline));
      g.drawLine(MARGIN, y - 4, MARGIN + 40, y - 4);
      g.setColor(Color.BLACK);
      g.drawString(arm + (baseline ? " (final value)" : ""), MARGIN + 50, y);
    }
    g.drawString(String.format(Locale.ROOT, "x: phase-2 step; %d seed(s) %s, phase 1 ended at %.3f / %.3f", phase1.size(), phase1.keySet(),
        phase1.values().stream().mapToDouble(Phase1::a).average().orElse(Double.NaN),
        phase1.values().stream().mapToDouble(Phase1::b).average().orElse(Double.NaN)), PANEL_W + MARGIN, PANEL_H + 20);
    g.dispose();
    ImageIO.write(image, "png", png.toFile());
  }

  private static void panel(Graphics2D g, int x0, String title, Map<String, List<Result>> byArm, ToDoubleFunction<Point> value,
      ToDoubleFunction<Result> end) {
    double lo = Double.MAX_VALUE;
    double hi = -Double.MAX_VALUE;
    int maxStep = 1;
    for (List<Result> rs : byArm.values()) {
      for (Result r : rs) {
        lo = Math.min(lo, end.applyAsDouble(r));
        hi = Math.max(hi, end.applyAsDouble(r));
        for (Point p : r.curve()) {
          lo = Math.min(lo, value.applyAsDouble(p));
          hi = Math.max(hi, value.applyAsDouble(p));
          maxStep = Math.max(maxStep, p.step());
        }
      }
    }
    double pad = (hi - lo) * 0.05 + 1e-6;
    lo -= pad;
    hi += pad;
    int left = x0 + MARGIN;
    int right = x0 + PANEL_W - 20;
    int top = 40;
    int bottom = PANEL_H - 40;
    g.setColor(Color.BLACK);
    g.drawString(title, left, 25);
    g.setStroke(new BasicStroke(1));
    g.drawRect(left, top, right - left, bottom - top);
    for (int t = 0; t <= 5; t++) {
      double v = lo + (hi - lo) * t / 5;
      int y = bottom - (int) ((bottom - top) * t / 5.0);
      g.setColor(new Color(0xe0e0e0));
      g.drawLine(left + 1, y, right - 1, y);
      g.setColor(Color.BLACK);
      g.drawString(String.format(Locale.ROOT, "%.2f", v), x0 + 15, y + 5);
      int step = maxStep * t / 5;
      g.drawString(String.valueOf(step), left + (right - left) * t / 5 - 10, bottom + 18);
    }
    int i = 0;
    for (List<Result> rs : byArm.values()) {
      g.setColor(COLORS[i++ % COLORS.length]);
      Result first = rs.get(0);
      if (first.curve().isEmpty()) {
        g.setStroke(stroke(true));
        int y = y(rs.stream().mapToDouble(end).average().orElse(Double.NaN), lo, hi, top, bottom);
        g.drawLine(left, y, right, y);
        continue;
      }
      g.setStroke(stroke(false));
      int px = -1;
      int py = -1;
      for (int k = 0; k < first.curve().size(); k++) {
        final int at = k;
        double mean = rs.stream().mapToDouble(r -> value.applyAsDouble(r.curve().get(at))).average().orElse(Double.NaN);
        int x = left + (int) ((right - left) * (double) first.curve().get(k).step() / maxStep);
        int y = y(mean, lo, hi, top, bottom);
        if (px >= 0) g.drawLine(px, py, x, y);
        px = x;
        py = y;
      }
    }
  }

  private static int y(double v, double lo, double hi, int top, int bottom) {
    return bottom - (int) Math.round((bottom - top) * (v - lo) / (hi - lo));
  }

  private static BasicStroke stroke(boolean dashed) {
    return dashed ? new BasicStroke(2, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10, new float[] {8, 6}, 0) : new BasicStroke(2);
  }
}
