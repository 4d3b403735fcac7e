package ipt.standalone;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A PromQL instant-vector selector, {@code metric{label="v", label=~"re"}}, matched against exported samples. */
record Selector(String metric, List<LabelMatcher> matchers) {
    record LabelMatcher(String label, String op, String value) {
        boolean matches(Map<String, String> labels) {
            String v = labels.getOrDefault(label, "");
            return switch (op) {
                case "=" -> v.equals(value);
                case "!=" -> !v.equals(value);
                case "=~" -> v.matches(value);
                case "!~" -> !v.matches(value);
                default -> throw new IllegalArgumentException(op);
            };
        }
    }

    private static final Pattern SELECTOR = Pattern.compile("(?<![a-z_:])((?:ipt_[a-z_]+)|up)(\\{[^}]*})?");
    private static final Pattern MATCHER = Pattern.compile("(\\w+)\\s*(=~|!=|!~|=)\\s*\"([^\"]*)\"");

    /** Every selector in a PromQL expression (or a rules file), in order. */
    static List<Selector> allIn(String promql) {
        List<Selector> out = new ArrayList<>();
        Matcher m = SELECTOR.matcher(promql);
        while (m.find()) {
            List<LabelMatcher> matchers = new ArrayList<>();
            if (m.group(2) != null) {
                Matcher l = MATCHER.matcher(m.group(2));
                while (l.find()) matchers.add(new LabelMatcher(l.group(1), l.group(2), l.group(3)));
            }
            out.add(new Selector(m.group(1), List.copyOf(matchers)));
        }
        return out;
    }

    boolean matches(MetricSample s) {
        return s.name().equals(metric) && matchers.stream().allMatch(m -> m.matches(s.labels()));
    }
}
