package ipt.runtime;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * One environment variable a service reads: its type, default, allowed values, when a change applies, and a one-line
 * doc. Declared once, in the manner of Kafka's {@code ConfigDef}; {@link Settings} parses, lists and documents them.
 *
 * @param defaultValue null: unset unless given (then {@code defaultText} says what happens)
 * @param family null for one variable; else what follows {@code name} in a family of variables
 *     ({@code IPT_QUALITY_} + {@code <DOMAIN>}): every variable that starts with {@code name}
 */
public record Setting<T>(
        String name,
        Type<T> type,
        T defaultValue,
        String defaultText,
        Rule<? super T> rule,
        Change change,
        String family,
        String doc) {

    /** When a changed value applies. */
    public enum Change {
        RESTART("on restart"),
        NEXT_ROUND("from the lineage's next round"),
        REFUSED("fixed when the lineage starts: a different value is refused at start"),
        NEW_LINEAGE("only when a new lineage starts");

        final String text;

        Change(String text) {
            this.text = text;
        }
    }

    /** How a value is read from its text, written back, and described in a JSON schema. */
    public record Type<T>(String json, Function<String, T> parse, Function<T, String> show, List<String> choices) {
        public static final Type<Integer> INT =
                new Type<>("integer", s -> Integer.parseInt(s.strip()), String::valueOf, List.of());
        public static final Type<Double> DOUBLE =
                new Type<>("number", s -> Double.parseDouble(s.strip()), Rule::number, List.of());
        public static final Type<String> STRING = new Type<>("string", s -> s, s -> s, List.of());
        /** Listed as {@code ***}. */
        public static final Type<String> SECRET = new Type<>("string", s -> s, s -> "***", List.of());

        public static final Type<Path> PATH = new Type<>("string", Path::of, Path::toString, List.of());
        public static final Type<Boolean> BOOLEAN = new Type<>("boolean", Type::bool, String::valueOf, List.of());
        public static final Type<Boolean> ON_OFF = words(onOff());
        /** A positive whole number of one unit ({@code 30d}, {@code 12h}, {@code 15m}, {@code 90s}, {@code 500ms}), or
         * {@code off} (empty): for limits that can be lifted. Paired with {@link Rule#DURATION_OR_OFF}. */
        public static final Type<Optional<Duration>> DURATION_OR_OFF =
                new Type<>("string", Type::durationOrOff, Type::durationOrOff, List.of());

        /** An enum constant written in lower case with {@code -} for {@code _} ({@code domain-balanced}), in any
         * case. */
        public static <E extends Enum<E>> Type<E> of(Class<E> type) {
            List<String> names =
                    Arrays.stream(type.getEnumConstants()).map(Type::spelled).toList();
            return new Type<>(
                    "string",
                    s -> {
                        String wanted = s.strip().toUpperCase(Locale.ROOT).replace('-', '_');
                        for (E e : type.getEnumConstants()) if (e.name().equals(wanted)) return e;
                        throw new IllegalArgumentException("must be one of " + String.join(", ", names));
                    },
                    Type::spelled,
                    names);
        }

        /** One of fixed words, each standing for a value ({@code on}/{@code off}, quality presets). */
        public static <V> Type<V> words(Map<String, V> words) {
            Map<String, V> copy = new LinkedHashMap<>(words);
            List<String> names = List.copyOf(copy.keySet());
            return new Type<>(
                    "string",
                    s -> {
                        V v = copy.get(s.strip().toLowerCase(Locale.ROOT));
                        if (v == null) throw new IllegalArgumentException("must be one of " + String.join(", ", names));
                        return v;
                    },
                    v -> copy.entrySet().stream()
                            .filter(e -> e.getValue().equals(v))
                            .findFirst()
                            .map(Map.Entry::getKey)
                            .orElse("?"),
                    names);
        }

        private static Map<String, Boolean> onOff() {
            Map<String, Boolean> words = new LinkedHashMap<>();
            words.put("on", true);
            words.put("off", false);
            return words;
        }

        private static String spelled(Enum<?> e) {
            return e.name().toLowerCase(Locale.ROOT).replace('_', '-');
        }

        private static final List<Map.Entry<String, Duration>> UNITS = List.of(
                Map.entry("d", Duration.ofDays(1)),
                Map.entry("h", Duration.ofHours(1)),
                Map.entry("m", Duration.ofMinutes(1)),
                Map.entry("s", Duration.ofSeconds(1)),
                Map.entry("ms", Duration.ofMillis(1)));

        private static Optional<Duration> durationOrOff(String s) {
            String text = s.strip().toLowerCase(Locale.ROOT);
            if (text.equals("off")) return Optional.empty();
            if (!text.matches(Rule.DURATION_REGEX)) throw new IllegalArgumentException(Rule.DURATION_OR_OFF.text());
            String digits = text.replaceAll("[a-z]+$", "");
            String unit = text.substring(digits.length());
            Duration one = UNITS.stream()
                    .filter(u -> u.getKey().equals(unit))
                    .findFirst()
                    .orElseThrow()
                    .getValue();
            try {
                return Optional.of(one.multipliedBy(Long.parseLong(digits)));
            } catch (ArithmeticException | NumberFormatException e) {
                throw new IllegalArgumentException("too long: " + text);
            }
        }

        /** In the largest unit that divides it, as read. */
        private static String durationOrOff(Optional<Duration> d) {
            if (d.isEmpty()) return "off";
            for (Map.Entry<String, Duration> u : UNITS) {
                long millis = u.getValue().toMillis();
                if (d.get().toMillis() % millis == 0) return d.get().toMillis() / millis + u.getKey();
            }
            throw new AssertionError("a whole number of milliseconds: " + d.get());
        }

        private static boolean bool(String s) {
            return switch (s.strip().toLowerCase(Locale.ROOT)) {
                case "true" -> true;
                case "false" -> false;
                default -> throw new IllegalArgumentException("must be true or false");
            };
        }
    }

    /** What a parsed value must satisfy, said in words (for errors and docs) and as JSON schema keywords. */
    public record Rule<T>(String text, Predicate<T> test, Map<String, Object> schema) {
        public static final Rule<Object> ANY = new Rule<>("", v -> true, Map.of());

        static final String DURATION_REGEX = "[1-9][0-9]*(d|h|m|s|ms)";
        /** What {@link Type#DURATION_OR_OFF} reads (its parse enforces it; this says it in docs and the schema). */
        public static final Rule<Object> DURATION_OR_OFF = new Rule<>(
                "must be `off` or a positive whole number of d, h, m, s or ms (`30d`, `90m`)",
                v -> true,
                Map.of("pattern", "^(off|" + DURATION_REGEX + ")$"));

        public static Rule<Number> atLeast(double min) {
            return new Rule<>("must be >= " + number(min), v -> v.doubleValue() >= min, Map.of("minimum", json(min)));
        }

        public static Rule<Number> above(double min) {
            return new Rule<>(
                    "must be > " + number(min), v -> v.doubleValue() > min, Map.of("exclusiveMinimum", json(min)));
        }

        /** [min, max] */
        public static Rule<Number> between(double min, double max) {
            return new Rule<>(
                    "must be in [" + number(min) + ", " + number(max) + "]",
                    v -> v.doubleValue() >= min && v.doubleValue() <= max,
                    Map.of("minimum", json(min), "maximum", json(max)));
        }

        /** [min, max) */
        public static Rule<Number> from(double min, double below) {
            return new Rule<>(
                    "must be in [" + number(min) + ", " + number(below) + ")",
                    v -> v.doubleValue() >= min && v.doubleValue() < below,
                    Map.of("minimum", json(min), "exclusiveMaximum", json(below)));
        }

        /** (min, max) */
        public static Rule<Number> within(double above, double below) {
            return new Rule<>(
                    "must be in (" + number(above) + ", " + number(below) + ")",
                    v -> v.doubleValue() > above && v.doubleValue() < below,
                    Map.of("exclusiveMinimum", json(above), "exclusiveMaximum", json(below)));
        }

        public static Rule<String> matches(String regex) {
            return new Rule<>("must match " + regex, v -> v.matches(regex), Map.of("pattern", "^" + regex + "$"));
        }

        /** An IPv4 or IPv6 literal: a host name would depend on DNS at start. */
        public static Rule<String> ipAddress() {
            String regex = "[0-9]{1,3}(\\.[0-9]{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]*";
            return new Rule<>(
                    "must be an IP address such as 127.0.0.1, 0.0.0.0 or ::",
                    v -> v.matches(regex),
                    Map.of("pattern", "^(" + regex + ")$"));
        }

        public static Rule<Path> exists() {
            return new Rule<>("must exist", p -> p.toFile().exists(), Map.of());
        }

        static String number(double v) {
            return v == Math.rint(v) && Math.abs(v) < 1e15 ? String.valueOf((long) v) : String.valueOf(v);
        }

        private static Object json(double v) {
            return v == Math.rint(v) && Math.abs(v) <= Integer.MAX_VALUE ? (Object) (int) v : (Object) v;
        }
    }

    public Setting {
        if (!name.matches("[A-Z][A-Z0-9_]*"))
            throw new IllegalArgumentException("not an environment variable name: " + name);
        if (defaultValue != null && !rule.test().test(defaultValue)) {
            throw new IllegalArgumentException(
                    name + ": the default " + defaultValue + " breaks its own rule: " + rule.text());
        }
    }

    public static <T> Setting<T> of(
            String name, Type<T> type, T defaultValue, Rule<? super T> rule, Change change, String doc) {
        return new Setting<>(
                name,
                type,
                defaultValue,
                defaultValue == null ? "" : type.show().apply(defaultValue),
                rule,
                change,
                null,
                doc);
    }

    /** Without a default: unset is a valid state whose meaning {@code unsetMeans} describes ({@code "(none)"}). */
    public static <T> Setting<T> optional(
            String name, Type<T> type, String unsetMeans, Rule<? super T> rule, Change change, String doc) {
        return new Setting<>(name, type, null, unsetMeans, rule, change, null, doc);
    }

    /** Every variable {@code prefix<SUFFIX>}; {@code suffix} names the part after the prefix in docs. */
    public static <T> Setting<T> family(
            String prefix, String suffix, Type<T> type, String unsetMeans, Change change, String doc) {
        return new Setting<>(prefix, type, null, unsetMeans, Rule.ANY, change, suffix, doc);
    }

    /** The name as docs show it: {@code IPT_QUALITY_<DOMAIN>} for a family. */
    public String shown() {
        return family == null ? name : name + family;
    }

    /** This one setting's value in {@code env} (its default when unset), for a tool that reads no other. */
    public T from(Map<String, String> env) {
        String text = env.get(name);
        return text == null ? defaultValue : parse(name, text);
    }

    /** The value of one variable's text, or an error that names the variable, the value and the rule it breaks. */
    T parse(String variable, String text) {
        T value;
        try {
            value = type.parse().apply(text);
        } catch (RuntimeException e) {
            String why = e instanceof NumberFormatException
                    ? "must be " + ("integer".equals(type.json()) ? "an integer" : "a number")
                    : e.getMessage();
            throw new IllegalArgumentException(variable + "=" + text + ": " + why);
        }
        @SuppressWarnings("unchecked")
        Predicate<Object> test = (Predicate<Object>) rule.test();
        if (!test.test(value)) throw new IllegalArgumentException(variable + "=" + text + ": " + rule.text());
        return value;
    }

    /** This setting as a JSON schema (draft 7) property, as {@code values.schema.json} should declare it. */
    public Map<String, Object> jsonSchema() {
        Map<String, Object> schema = new LinkedHashMap<>();
        schema.put("type", type.json());
        if (!type.choices().isEmpty()) schema.put("enum", type.choices());
        schema.putAll(new java.util.TreeMap<>(rule.schema()));
        return schema;
    }
}
