package ipt.standalone;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** One sample of a service's /metrics text exposition: metric name, labels, value. */
record MetricSample(String name, Map<String, String> labels, double value) {

    /** The samples of a Prometheus text exposition (format 0.0.4); comments and blank lines skipped. */
    static List<MetricSample> parse(String exposition) {
        List<MetricSample> out = new ArrayList<>();
        for (String line : exposition.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) continue;
            int i = 0;
            while (i < line.length() && line.charAt(i) != '{' && line.charAt(i) != ' ') i++;
            String name = line.substring(0, i);
            Map<String, String> labels = new TreeMap<>();
            if (i < line.length() && line.charAt(i) == '{') {
                i++;
                while (line.charAt(i) != '}') {
                    int eq = line.indexOf('=', i);
                    String label = line.substring(i, eq).strip();
                    StringBuilder value = new StringBuilder();
                    int j = eq + 2; // past ="
                    for (; line.charAt(j) != '"'; j++) {
                        char c = line.charAt(j);
                        if (c == '\\') {
                            char next = line.charAt(++j);
                            value.append(next == 'n' ? '\n' : next);
                        } else value.append(c);
                    }
                    labels.put(label, value.toString());
                    i = j + 1;
                    if (line.charAt(i) == ',') i++;
                }
                i++;
            }
            String[] rest = line.substring(i).strip().split("\\s+");
            out.add(new MetricSample(name, Map.copyOf(labels), parseValue(rest[0])));
        }
        return out;
    }

    private static double parseValue(String text) {
        return switch (text) {
            case "+Inf" -> Double.POSITIVE_INFINITY;
            case "-Inf" -> Double.NEGATIVE_INFINITY;
            default -> Double.parseDouble(text);
        };
    }
}
