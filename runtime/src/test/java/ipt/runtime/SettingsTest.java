package ipt.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ipt.runtime.Setting.Change;
import ipt.runtime.Setting.Rule;
import ipt.runtime.Setting.Type;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class SettingsTest {
    enum Policy {
        UNIFORM,
        DOMAIN_BALANCED
    }

    private final Settings settings = new Settings("test", Settings.STATUS_PORT);
    private final Setting<Double> fraction = settings.add(
            Setting.of("IPT_REPLAY_FRACTION", Type.DOUBLE, 0.25, Rule.from(0, 1), Change.NEXT_ROUND, "share replayed"));
    private final Setting<Integer> steps =
            settings.add(Setting.of("IPT_STEPS", Type.INT, 50, Rule.atLeast(1), Change.NEXT_ROUND, "steps"));
    private final Setting<Policy> policy = settings.add(
            Setting.of("IPT_POLICY", Type.of(Policy.class), Policy.UNIFORM, Rule.ANY, Change.NEXT_ROUND, "policy"));
    private final Setting<Boolean> nearDup =
            settings.add(Setting.of("IPT_NEAR_DUP", Type.ON_OFF, true, Rule.ANY, Change.RESTART, "near-dup"));
    private final Setting<Path> rules = settings.add(
            Setting.optional("IPT_RULES", Type.PATH, "(none)", Rule.exists(), Change.RESTART, "rules file"));
    private final Setting<String> token =
            settings.add(Setting.optional("IPT_TOKEN", Type.SECRET, "", Rule.ANY, Change.RESTART, "token"));
    private final Setting<Integer> quality =
            settings.add(Setting.family("IPT_Q_", "<DOMAIN>", Type.INT, "", Change.RESTART, "per domain"));

    @Test
    void anErrorNamesTheVariableItsValueAndTheRule() {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class, () -> settings.parse(Map.of("IPT_REPLAY_FRACTION", "1.5")));
        assertEquals("IPT_REPLAY_FRACTION=1.5: must be in [0, 1)", e.getMessage());
        assertEquals("IPT_STEPS=0: must be >= 1", message(Map.of("IPT_STEPS", "0")));
        assertEquals("IPT_STEPS=ten: must be an integer", message(Map.of("IPT_STEPS", "ten")));
        assertEquals("IPT_REPLAY_FRACTION=a lot: must be a number", message(Map.of("IPT_REPLAY_FRACTION", "a lot")));
        assertEquals(
                "IPT_POLICY=recent: must be one of uniform, domain-balanced", message(Map.of("IPT_POLICY", "recent")));
        assertEquals("IPT_NEAR_DUP=yes: must be one of on, off", message(Map.of("IPT_NEAR_DUP", "yes")));
        assertEquals("IPT_RULES=/no/such/file: must exist", message(Map.of("IPT_RULES", "/no/such/file")));
        assertEquals("IPT_Q_EN=x: must be an integer", message(Map.of("IPT_Q_EN", "x")));
        assertEquals("IPT_STATUS_PORT=70000: must be in [0, 65535]", message(Map.of("IPT_STATUS_PORT", "70000")));
    }

    @Test
    void everyBadVariableIsReportedAtOnce() {
        String all = message(Map.of("IPT_REPLAY_FRACTION", "-0.1", "IPT_STEPS", "0", "IPT_POLICY", "x"));
        assertEquals(3, all.lines().count(), all);
        assertTrue(all.startsWith("IPT_REPLAY_FRACTION=-0.1: must be in [0, 1)"), "in declaration order: " + all);
    }

    @Test
    void valuesAreTypedDefaultedAndKnowWhetherTheyWereSet() {
        Settings.Values v = settings.parse(Map.of(
                "IPT_STEPS",
                " 7 ",
                "IPT_POLICY",
                "Domain-Balanced",
                "IPT_NEAR_DUP",
                "off",
                "IPT_Q_EN_GB",
                "3",
                "IPT_Q_JAVA",
                "4",
                "KAFKA_BOOTSTRAP_SERVERS",
                "k:9092"));
        assertEquals(7, v.get(steps));
        assertEquals(0.25, v.get(fraction));
        assertFalse(v.isSet(fraction));
        assertTrue(v.isSet(steps));
        assertEquals(Policy.DOMAIN_BALANCED, v.get(policy));
        assertFalse(v.get(nearDup));
        assertNull(v.get(rules));
        assertEquals(Map.of("EN_GB", 3, "JAVA", 4), v.family(quality));
        assertEquals(8080, v.get(Settings.STATUS_PORT));
        assertEquals("k:9092", v.env().get("KAFKA_BOOTSTRAP_SERVERS"), "the environment passes through for KAFKA_*");
    }

    @Test
    void aSettingOfAnotherServiceCannotBeRead() {
        Setting<Integer> other = Setting.of("IPT_OTHER", Type.INT, 1, Rule.ANY, Change.RESTART, "other");
        assertThrows(IllegalStateException.class, () -> settings.parse(Map.of()).get(other));
    }

    @Test
    void declarationsAreCheckedWhenMade() {
        assertThrows(
                IllegalArgumentException.class,
                () -> settings.add(Setting.of("IPT_STEPS", Type.INT, 1, Rule.ANY, Change.RESTART, "twice")),
                "a name is declared once per service");
        assertThrows(
                IllegalArgumentException.class,
                () -> Setting.of(
                        "IPT_X", Type.INT, 0, Rule.atLeast(1), Change.RESTART, "a default that breaks its rule"));
        assertThrows(
                IllegalArgumentException.class,
                () -> Setting.of("ipt_lower", Type.INT, 0, Rule.ANY, Change.RESTART, "name"));
    }

    @Test
    void theListingShowsEffectiveValuesAndHidesSecrets() {
        String listing = settings.parse(Map.of("IPT_STEPS", "7", "IPT_TOKEN", "hunter2", "IPT_Q_EN", "3"))
                .listing();
        assertTrue(listing.matches("(?s).*IPT_STEPS +7 +set +steps.*"), listing);
        assertTrue(listing.matches("(?s).*IPT_REPLAY_FRACTION +0.25 +default +share replayed.*"), listing);
        assertTrue(listing.matches("(?s).*IPT_Q_EN +3 +set.*"), listing);
        assertTrue(listing.contains("***") && !listing.contains("hunter2"), listing);
    }

    @Test
    void theTableAndTheSchemaComeFromTheDeclaration() {
        String table = settings.markdown();
        assertTrue(
                table.contains("| `IPT_REPLAY_FRACTION` | `0.25` | from the lineage's next round | share replayed; "
                        + "must be in [0, 1) |"),
                table);
        assertTrue(table.contains("| `IPT_Q_<DOMAIN>` |"), table);
        assertEquals(Map.of("type", "number", "minimum", 0, "exclusiveMaximum", 1), fraction.jsonSchema());
        assertEquals(
                Map.of("type", "string", "enum", java.util.List.of("uniform", "domain-balanced")), policy.jsonSchema());
    }

    @Test
    void aDurationIsOneUnitOrOffAndIsShownAsRead() {
        Settings own = new Settings("horizon");
        Setting<Optional<Duration>> horizon = own.add(Setting.of(
                "IPT_HORIZON",
                Type.DURATION_OR_OFF,
                Optional.of(Duration.ofDays(30)),
                Rule.DURATION_OR_OFF,
                Change.RESTART,
                "horizon"));
        assertEquals("30d", horizon.defaultText());
        assertEquals(Optional.of(Duration.ofDays(30)), own.parse(Map.of()).get(horizon));
        assertEquals(
                Optional.of(Duration.ofMinutes(90)),
                own.parse(Map.of("IPT_HORIZON", "90m")).get(horizon));
        assertEquals(
                Optional.of(Duration.ofMillis(500)),
                own.parse(Map.of("IPT_HORIZON", "500ms")).get(horizon));
        assertEquals(Optional.empty(), own.parse(Map.of("IPT_HORIZON", "OFF")).get(horizon));
        assertEquals("36h", Type.DURATION_OR_OFF.show().apply(Optional.of(Duration.ofHours(36))));
        assertEquals("off", Type.DURATION_OR_OFF.show().apply(Optional.empty()));
        for (String bad : new String[] {"0d", "30", "1.5h", "-1d", "1w", "forever"}) {
            String e = assertThrows(IllegalArgumentException.class, () -> own.parse(Map.of("IPT_HORIZON", bad)))
                    .getMessage();
            assertTrue(e.startsWith("IPT_HORIZON=" + bad + ": must be `off` or a positive"), e);
        }
        assertEquals(Map.of("type", "string", "pattern", "^(off|[1-9][0-9]*(d|h|m|s|ms))$"), horizon.jsonSchema());
    }

    private String message(Map<String, String> env) {
        return assertThrows(IllegalArgumentException.class, () -> settings.parse(env))
                .getMessage();
    }
}
