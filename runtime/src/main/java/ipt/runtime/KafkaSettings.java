package ipt.runtime;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Kafka client settings from the environment, the way container images are usually configured:
 * every {@code KAFKA_FOO_BAR} becomes {@code foo.bar}, so SASL and TLS settings
 * ({@code KAFKA_SECURITY_PROTOCOL}, {@code KAFKA_SASL_JAAS_CONFIG}, ...) pass straight through.
 */
public final class KafkaSettings {
    private KafkaSettings() {}

    public static Map<String, Object> fromEnv(Map<String, String> env) {
        Map<String, Object> props = new HashMap<>();
        env.forEach((key, value) -> {
            if (key.startsWith("KAFKA_") && key.length() > 6) {
                props.put(key.substring(6).toLowerCase(Locale.ROOT).replace('_', '.'), value);
            }
        });
        if (!props.containsKey("bootstrap.servers")) {
            throw new IllegalArgumentException("KAFKA_BOOTSTRAP_SERVERS is not set");
        }
        return props;
    }

    /** Common client settings plus {@code bootstrap.servers}. */
    public static Map<String, Object> of(String bootstrapServers) {
        Map<String, Object> props = new HashMap<>();
        props.put("bootstrap.servers", bootstrapServers);
        return props;
    }
}
