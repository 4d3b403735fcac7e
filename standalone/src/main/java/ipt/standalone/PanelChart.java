package ipt.standalone;

import com.fasterxml.jackson.databind.JsonNode;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;

/** The dashboard's panels drawn without Grafana: each a small line chart of its series over a run, in a grid. */
final class PanelChart {
    private PanelChart() {}

    /** Every panel as a small line chart in a grid, its series over the demo's run. */
    static void draw(Map<String, List<JsonNode>> panels, long start, long end, Path png) throws Exception {
        int columns = 3;
        int w = 520;
        int h = 260;
        int rows = (panels.size() + columns - 1) / columns;
        BufferedImage image = new BufferedImage(columns * w, rows * h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, image.getWidth(), image.getHeight());
        Color[] palette = {
            new Color(31, 119, 180),
            new Color(255, 127, 14),
            new Color(44, 160, 44),
            new Color(214, 39, 40),
            new Color(148, 103, 189),
            new Color(140, 86, 75),
            new Color(227, 119, 194),
            new Color(127, 127, 127)
        };
        int i = 0;
        for (Map.Entry<String, List<JsonNode>> panel : panels.entrySet()) {
            int x0 = (i % columns) * w + 40;
            int y0 = (i / columns) * h + 28;
            int pw = w - 60;
            int ph = h - 60;
            g.setColor(Color.BLACK);
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 12));
            g.drawString(panel.getKey(), x0 - 30, y0 - 10);
            double min = Double.POSITIVE_INFINITY;
            double max = Double.NEGATIVE_INFINITY;
            for (JsonNode s : panel.getValue()) {
                for (JsonNode v : s.get("values")) {
                    double y = v.get(1).asDouble();
                    if (Double.isFinite(y)) {
                        min = Math.min(min, y);
                        max = Math.max(max, y);
                    }
                }
            }
            if (min == max) max = min + 1;
            g.setColor(Color.LIGHT_GRAY);
            g.drawRect(x0, y0, pw, ph);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 10));
            g.drawString(String.format("%.3g", max), x0 - 38, y0 + 10);
            g.drawString(String.format("%.3g", min), x0 - 38, y0 + ph);
            int c = 0;
            for (JsonNode s : panel.getValue()) {
                g.setColor(palette[c++ % palette.length]);
                g.setStroke(new BasicStroke(1.2f));
                int px = -1;
                int py = -1;
                for (JsonNode v : s.get("values")) {
                    double y = v.get(1).asDouble();
                    if (!Double.isFinite(y)) {
                        px = -1;
                        continue;
                    }
                    int x = x0 + (int) ((v.get(0).asDouble() - start) / Math.max(1, end - start) * pw);
                    int yy = y0 + ph - (int) ((y - min) / (max - min) * ph);
                    if (px >= 0) g.drawLine(px, py, x, yy);
                    px = x;
                    py = yy;
                }
            }
            i++;
        }
        g.dispose();
        Files.createDirectories(png.getParent());
        ImageIO.write(image, "png", png.toFile());
    }
}
