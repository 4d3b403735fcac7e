package ipt.runtime;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The settings one service reads, each declared once ({@link Setting}); the only reader of the process environment.
 * Parses an environment into {@link Values}, reporting every bad variable at once, lists the effective values
 * ({@code ipt config}) and writes the README table ({@code SettingsDocsTest} keeps the README equal to it).
 */
public final class Settings {
    private final String service;
    private final List<Setting<?>> declared = new ArrayList<>();

    /** {@code shared}: settings declared elsewhere that this service reads too ({@link #STATUS_PORT}). */
    public Settings(String service, Setting<?>... shared) {
        this.service = service;
        for (Setting<?> s : shared) add(s);
    }

    /** Served on by every service process: /metrics, /healthz and a service's own API. */
    public static final Setting<Integer> STATUS_PORT = Setting.of(
            "IPT_STATUS_PORT",
            Setting.Type.INT,
            8080,
            Setting.Rule.between(0, 65535),
            Setting.Change.RESTART,
            "port of `/metrics`, `/healthz` and the service's own API (0: a free one)");

    /** The address the status port binds: an IP address (a host name would depend on DNS at start). */
    public static final Setting<String> STATUS_BIND = Setting.of(
            "IPT_STATUS_BIND",
            Setting.Type.STRING,
            "127.0.0.1",
            Setting.Rule.ipAddress(),
            Setting.Change.RESTART,
            "address of the status port: loopback unless set (the chart sets `0.0.0.0` for its probes and Prometheus)");

    /** How long a service process may take to stop once asked (SIGTERM): the chart's grace period follows it. */
    public static final Setting<Integer> STOP_SECONDS = Setting.of(
            "IPT_STOP_SECONDS",
            Setting.Type.INT,
            30,
            Setting.Rule.between(1, 3600),
            Setting.Change.RESTART,
            "on SIGTERM or SIGINT the service abandons its work in flight (a trainer's round at the next step, the "
                    + "evaluator's decision at the next task), closes its Kafka clients and stores and exits 0 within "
                    + "this many seconds, else exits 1 then (README, Stopping)");

    private static final String DEVICE_SPELLING = "(cpu|cuda(:[0-9]+)?)"; // as ipt.model.ComputeDevice reads it

    /** Where a process that runs a model trains and scores it (ipt.model.ComputeDevice checks that PyTorch sees it). */
    public static final Setting<String> DEVICE = Setting.of(
            "IPT_DEVICE",
            Setting.Type.STRING,
            "cpu",
            new Setting.Rule<String>(
                    "must be cpu, cuda or cuda:N",
                    v -> v.matches(DEVICE_SPELLING),
                    Map.of("pattern", "^" + DEVICE_SPELLING + "$")),
            Setting.Change.RESTART,
            "where models train and score: `cpu`, or `cuda` / `cuda:N` (a GPU: needs the `-Pcuda` build; refused at "
                    + "start when PyTorch sees no such GPU, never a silent CPU fallback; README, GPU)");

    /** Kafka client settings of every service, passed through ({@link KafkaSettings#fromEnv}). */
    public static final Setting<String> KAFKA = Setting.family(
            "KAFKA_",
            "<PROPERTY>",
            Setting.Type.STRING,
            "`KAFKA_BOOTSTRAP_SERVERS` is required",
            Setting.Change.RESTART,
            "Kafka client property `<property>` (lower case, `_` as `.`): `KAFKA_SECURITY_PROTOCOL`, "
                    + "`KAFKA_SASL_JAAS_CONFIG`, …");

    /** The process environment: services read it only through a {@link Settings#parse}. */
    public static Map<String, String> environment() {
        return System.getenv();
    }

    public <T> Setting<T> add(Setting<T> setting) {
        for (Setting<?> s : declared) {
            if (s.name().equals(setting.name()))
                throw new IllegalArgumentException(service + " declares " + s.name() + " twice");
        }
        declared.add(setting);
        return setting;
    }

    public String service() {
        return service;
    }

    public List<Setting<?>> declared() {
        return Collections.unmodifiableList(declared);
    }

    /** Every declared setting's value; an {@link IllegalArgumentException} names each bad variable and its rule. */
    public Values parse(Map<String, String> env) {
        Map<String, Object> values = new LinkedHashMap<>();
        Map<String, Map<String, Object>> families = new LinkedHashMap<>();
        List<String> errors = new ArrayList<>();
        for (Setting<?> s : declared) {
            if (s.family() != null) {
                Map<String, Object> members = new TreeMap<>();
                for (Map.Entry<String, String> e : new TreeMap<>(env).entrySet()) {
                    if (!e.getKey().startsWith(s.name())
                            || e.getKey().length() == s.name().length()
                            || isDeclared(e.getKey())) continue;
                    try {
                        members.put(e.getKey().substring(s.name().length()), s.parse(e.getKey(), e.getValue()));
                    } catch (IllegalArgumentException bad) {
                        errors.add(bad.getMessage());
                    }
                }
                families.put(s.name(), members);
                continue;
            }
            String text = env.get(s.name());
            if (text == null) {
                if (s.defaultValue() != null) values.put(s.name(), s.defaultValue());
                continue;
            }
            try {
                values.put(s.name(), s.parse(s.name(), text));
            } catch (IllegalArgumentException bad) {
                errors.add(bad.getMessage());
            }
        }
        if (!errors.isEmpty()) throw new IllegalArgumentException(String.join("\n", errors));
        return new Values(this, env, values, families);
    }

    private boolean isDeclared(String name) {
        return declared.stream().anyMatch(s -> s.family() == null && s.name().equals(name));
    }

    /** The README table of this service's settings. */
    public String markdown() {
        StringBuilder out =
                new StringBuilder("| variable | default | when a change applies | what it does |\n|---|---|---|---|\n");
        for (Setting<?> s : declared) {
            String rule = s.rule().text().isEmpty() ? "" : "; " + s.rule().text();
            String choices = s.type().choices().isEmpty()
                    ? ""
                    : "; one of `" + String.join("`, `", s.type().choices()) + "`";
            String dflt = s.defaultValue() != null ? "`" + s.defaultText() + "`" : s.defaultText();
            out.append("| `")
                    .append(s.shown())
                    .append("` | ")
                    .append(dflt)
                    .append(" | ")
                    .append(s.change().text)
                    .append(" | ")
                    .append(s.doc())
                    .append(rule)
                    .append(choices)
                    .append(" |\n");
        }
        return out.toString();
    }

    /** What a parse produced: typed values, families, and the environment itself for pass-through ({@code KAFKA_*}). */
    public static final class Values {
        private final Settings settings;
        private final Map<String, String> env;
        private final Map<String, Object> values;
        private final Map<String, Map<String, Object>> families;

        private Values(
                Settings settings,
                Map<String, String> env,
                Map<String, Object> values,
                Map<String, Map<String, Object>> families) {
            this.settings = settings;
            this.env = Map.copyOf(env);
            this.values = values;
            this.families = families;
        }

        /** The value, the default when unset, or null for an unset setting without one. */
        @SuppressWarnings("unchecked")
        public <T> T get(Setting<T> setting) {
            check(setting);
            return (T) values.get(setting.name());
        }

        /** Whether the variable was given, rather than defaulted. */
        public boolean isSet(Setting<?> setting) {
            check(setting);
            return env.containsKey(setting.name());
        }

        /** A family's members by suffix ({@code DEFAULT} of {@code IPT_QUALITY_DEFAULT}). */
        @SuppressWarnings("unchecked")
        public <T> Map<String, T> family(Setting<T> setting) {
            check(setting);
            return (Map<String, T>) families.get(setting.name());
        }

        public Map<String, String> env() {
            return env;
        }

        private void check(Setting<?> setting) {
            if (!settings.declared.contains(setting)) {
                throw new IllegalStateException(setting.name() + " is not declared for " + settings.service);
            }
        }

        /** Every setting with its effective value and where it came from, for {@code ipt config}. */
        public String listing() {
            StringBuilder out = new StringBuilder(settings.service + ":\n");
            for (Setting<?> s : settings.declared) {
                if (s.family() != null) {
                    Map<String, Object> members = families.get(s.name());
                    if (members.isEmpty()) out.append(line(s.shown(), "(none)", "", s));
                    members.forEach((suffix, v) -> out.append(line(s.name() + suffix, show(s, v), "set", s)));
                    continue;
                }
                Object v = values.get(s.name());
                String source = env.containsKey(s.name()) ? "set" : v == null ? "" : "default";
                out.append(line(s.name(), v == null ? s.defaultText() : show(s, v), source, s));
            }
            return out.toString();
        }

        private static String line(String name, String value, String source, Setting<?> s) {
            return String.format("  %-32s %-28s %-8s %s%n", name, value, source, s.doc());
        }

        @SuppressWarnings("unchecked")
        private static <T> String show(Setting<T> s, Object v) {
            return s.type().show().apply((T) v);
        }
    }
}
