package ipt.ingest;

import ipt.runtime.Setting;
import ipt.runtime.Setting.Change;
import ipt.runtime.Setting.Rule;
import ipt.runtime.Setting.Type;
import ipt.runtime.Settings;
import ipt.schemas.Topics;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * What the curation topology accepts and how it splits.
 *
 * @param heldoutFraction share of documents (by a hash of their id) routed to the held-out topic, in [0, 1]
 * @param minTextChars shortest normalised text accepted, in UTF-16 chars
 * @param maxTextChars longest normalised text accepted, in UTF-16 chars
 * @param maxIdChars longest document id accepted
 * @param dedupStoreName the state store of content hashes already seen (its changelog topic is named after it)
 * @param quality quality thresholds by domain ({@link QualityThresholds#none()} turns the filter off for one)
 * @param defaultQuality thresholds for domains not in {@code quality}
 * @param unspacedQuality thresholds for domains not in {@code quality}, for a text whose letters are mostly of scripts
 *     written without spaces ({@link Scripts#mostlyUnspaced()})
 * @param nearDup MinHash near-duplicate removal; empty: off
 * @param newDomainHeldoutBytes held-out bytes a new domain takes from half of its first documents before the
 *     hash split takes over, so it becomes an evaluator task soon (0: off)
 * @param dedupHorizon how long, in record timestamps, the dedup stores remember a text or band: a copy whose
 *     earlier twin is older passes (and is remembered in its place); empty: forever
 */
public record CurationConfig(
        double heldoutFraction,
        int minTextChars,
        int maxTextChars,
        int maxIdChars,
        String dedupStoreName,
        Map<String, QualityThresholds> quality,
        QualityThresholds defaultQuality,
        QualityThresholds unspacedQuality,
        Optional<MinHash.Config> nearDup,
        int newDomainHeldoutBytes,
        Optional<Duration> dedupHorizon) {

    /** Stream time an exact or near-duplicate store remembers an entry for by default. */
    public static final Duration DEFAULT_DEDUP_HORIZON = Duration.ofDays(30);

    /** Twice the evaluator's default snapshot (8,256 bytes): a new domain is a task after about 32 KB of its text. */
    public static final int NEW_DOMAIN_HELDOUT_BYTES = 16 * 1024;

    /** Domains that get the code preset by default. */
    private static final String[] CODE_DOMAINS = {
        "code",
        "java",
        "python",
        "c",
        "cpp",
        "csharp",
        "go",
        "rust",
        "javascript",
        "typescript",
        "kotlin",
        "scala",
        "ruby",
        "php",
        "shell",
        "sql"
    };

    public CurationConfig {
        if (!(heldoutFraction >= 0 && heldoutFraction <= 1)) {
            throw new IllegalArgumentException("heldoutFraction must be in [0, 1]: " + heldoutFraction);
        }
        if (minTextChars < 1 || maxTextChars < minTextChars) {
            throw new IllegalArgumentException(
                    "need 1 <= minTextChars <= maxTextChars: " + minTextChars + ", " + maxTextChars);
        }
        if (newDomainHeldoutBytes < 0)
            throw new IllegalArgumentException("newDomainHeldoutBytes must not be negative: " + newDomainHeldoutBytes);
        if (maxIdChars < 1) throw new IllegalArgumentException("maxIdChars must be positive: " + maxIdChars);
        if (dedupHorizon.isPresent()
                && (dedupHorizon.get().isNegative() || dedupHorizon.get().isZero()))
            throw new IllegalArgumentException("dedupHorizon must be positive: " + dedupHorizon.get());
        if (dedupStoreName == null || dedupStoreName.isBlank()) {
            throw new IllegalArgumentException("dedupStoreName must be set");
        }
        quality = Map.copyOf(quality);
    }

    /**
     * 5% held out; English prose rules for en, code rules for code domains, for the rest prose rules, or the unspaced
     * preset for a text mostly in scripts written without spaces; near-dup 14×8.
     */
    public static CurationConfig defaults() {
        Map<String, QualityThresholds> quality = new HashMap<>();
        quality.put("en", QualityThresholds.english());
        for (String code : CODE_DOMAINS) quality.put(code, QualityThresholds.code());
        return new CurationConfig(
                0.05,
                1,
                1_000_000,
                256,
                "dedup-content-hashes",
                quality,
                QualityThresholds.prose(),
                QualityThresholds.unspaced(),
                Optional.of(MinHash.Config.defaults()),
                NEW_DOMAIN_HELDOUT_BYTES,
                Optional.of(DEFAULT_DEDUP_HORIZON));
    }

    public CurationConfig withHeldoutFraction(double fraction) {
        return new CurationConfig(
                fraction,
                minTextChars,
                maxTextChars,
                maxIdChars,
                dedupStoreName,
                quality,
                defaultQuality,
                unspacedQuality,
                nearDup,
                newDomainHeldoutBytes,
                dedupHorizon);
    }

    public CurationConfig withTextChars(int min, int max) {
        return new CurationConfig(
                heldoutFraction,
                min,
                max,
                maxIdChars,
                dedupStoreName,
                quality,
                defaultQuality,
                unspacedQuality,
                nearDup,
                newDomainHeldoutBytes,
                dedupHorizon);
    }

    /** Only validation and exact dedup: no quality filter, no near-dup removal. */
    public CurationConfig withoutContentFilters() {
        return new CurationConfig(
                heldoutFraction,
                minTextChars,
                maxTextChars,
                maxIdChars,
                dedupStoreName,
                Map.of(),
                QualityThresholds.none(),
                QualityThresholds.none(),
                Optional.empty(),
                newDomainHeldoutBytes,
                dedupHorizon);
    }

    public CurationConfig withNewDomainHeldoutBytes(int bytes) {
        return new CurationConfig(
                heldoutFraction,
                minTextChars,
                maxTextChars,
                maxIdChars,
                dedupStoreName,
                quality,
                defaultQuality,
                unspacedQuality,
                nearDup,
                bytes,
                dedupHorizon);
    }

    public CurationConfig withQuality(String domain, QualityThresholds thresholds) {
        Map<String, QualityThresholds> q = new HashMap<>(quality);
        q.put(domain, thresholds);
        return new CurationConfig(
                heldoutFraction,
                minTextChars,
                maxTextChars,
                maxIdChars,
                dedupStoreName,
                q,
                defaultQuality,
                unspacedQuality,
                nearDup,
                newDomainHeldoutBytes,
                dedupHorizon);
    }

    /** The thresholds for every domain not named, whatever the script. */
    public CurationConfig withDefaultQuality(QualityThresholds thresholds) {
        return new CurationConfig(
                heldoutFraction,
                minTextChars,
                maxTextChars,
                maxIdChars,
                dedupStoreName,
                quality,
                thresholds,
                thresholds,
                nearDup,
                newDomainHeldoutBytes,
                dedupHorizon);
    }

    public CurationConfig withNearDup(Optional<MinHash.Config> config) {
        return new CurationConfig(
                heldoutFraction,
                minTextChars,
                maxTextChars,
                maxIdChars,
                dedupStoreName,
                quality,
                defaultQuality,
                unspacedQuality,
                config,
                newDomainHeldoutBytes,
                dedupHorizon);
    }

    /** The stream time the dedup stores remember an entry for; empty: forever. */
    public CurationConfig withDedupHorizon(Optional<Duration> horizon) {
        return new CurationConfig(
                heldoutFraction,
                minTextChars,
                maxTextChars,
                maxIdChars,
                dedupStoreName,
                quality,
                defaultQuality,
                unspacedQuality,
                nearDup,
                newDomainHeldoutBytes,
                horizon);
    }

    /** Quality presets by the word that names them. */
    private static final Map<String, QualityThresholds> PRESETS = presets();

    /**
     * The curation service's settings, each declared once: README "Curation" is this table ({@code ipt config
     * --markdown}). A named preset applies to every script; without one a domain's documents get the default preset of
     * their scripts ({@code prose}, or {@code unspaced} for text mostly in scripts written without spaces). The ingest
     * API reads the rules too, to refuse what curation would.
     */
    public static final Settings SETTINGS =
            new Settings("curation", Settings.KAFKA, Settings.STATUS_PORT, Settings.STATUS_BIND, Settings.STOP_SECONDS);

    static final Setting<Double> HELDOUT_FRACTION = SETTINGS.add(Setting.of(
            "IPT_HELDOUT_FRACTION",
            Type.DOUBLE,
            0.05,
            Rule.between(0, 1),
            Change.RESTART,
            "share of documents (by a hash of their id) routed to the held-out topic"));
    static final Setting<Integer> HELDOUT_NEW_DOMAIN_BYTES = SETTINGS.add(Setting.of(
            "IPT_HELDOUT_NEW_DOMAIN_BYTES",
            Type.INT,
            NEW_DOMAIN_HELDOUT_BYTES,
            Rule.atLeast(0),
            Change.RESTART,
            "a new domain holds out every other document until this much of its text is held out, "
                    + "then the id hash decides"));
    static final Setting<QualityThresholds> QUALITY_DEFAULT = SETTINGS.add(Setting.optional(
            "IPT_QUALITY_DEFAULT",
            Type.words(PRESETS),
            "`prose` (`unspaced` for text mostly in unspaced scripts)",
            Rule.ANY,
            Change.RESTART,
            "quality preset of domains without their own, whatever their script"));
    static final Setting<QualityThresholds> QUALITY = SETTINGS.add(Setting.family(
            "IPT_QUALITY_",
            "<DOMAIN>",
            Type.words(PRESETS),
            "`en`: `english`, code domains: `code`",
            Change.RESTART,
            "quality preset of one domain (upper-cased, `-` as `_`)"));
    static final Setting<Boolean> NEAR_DUP = SETTINGS.add(
            Setting.of("IPT_NEAR_DUP", Type.ON_OFF, true, Rule.ANY, Change.RESTART, "MinHash near-duplicate removal"));
    static final Setting<Optional<Duration>> DEDUP_HORIZON = SETTINGS.add(Setting.of(
            "IPT_DEDUP_HORIZON",
            Type.DURATION_OR_OFF,
            Optional.of(DEFAULT_DEDUP_HORIZON),
            Rule.DURATION_OR_OFF,
            Change.RESTART,
            "how long, in record timestamps, exact and near-duplicate dedup remember a document: a copy whose "
                    + "earlier twin is older passes; `off`: forever"));
    static final Setting<Path> STATE_DIR = SETTINGS.add(Setting.optional(
            "IPT_STATE_DIR",
            Type.PATH,
            "`$TMPDIR/ipt-curation`",
            Rule.ANY,
            Change.RESTART,
            "Kafka Streams state (the dedup stores; rebuilt from their changelogs when lost)"));
    static final Setting<Integer> DOCUMENT_PARTITIONS = SETTINGS.add(Setting.of(
            "IPT_DOCUMENT_PARTITIONS",
            Type.INT,
            Topics.DEFAULT_DOCUMENT_PARTITIONS,
            Rule.atLeast(1),
            Change.RESTART,
            "partitions of the document topics it creates when they are missing"));

    /** The defaults, changed by the environment ({@link #SETTINGS}). */
    public static CurationConfig fromEnv(Map<String, String> env) {
        return from(SETTINGS.parse(env));
    }

    static CurationConfig from(Settings.Values v) {
        CurationConfig c = defaults()
                .withHeldoutFraction(v.get(HELDOUT_FRACTION))
                .withNewDomainHeldoutBytes(v.get(HELDOUT_NEW_DOMAIN_BYTES))
                .withDedupHorizon(v.get(DEDUP_HORIZON));
        if (v.isSet(QUALITY_DEFAULT)) c = c.withDefaultQuality(v.get(QUALITY_DEFAULT));
        for (Map.Entry<String, QualityThresholds> e : v.family(QUALITY).entrySet()) {
            c = c.withQuality(e.getKey().toLowerCase(Locale.ROOT).replace('_', '-'), e.getValue());
        }
        return v.get(NEAR_DUP) ? c : c.withNearDup(Optional.empty());
    }

    private static Map<String, QualityThresholds> presets() {
        Map<String, QualityThresholds> p = new LinkedHashMap<>();
        p.put("english", QualityThresholds.english());
        p.put("prose", QualityThresholds.prose());
        p.put("unspaced", QualityThresholds.unspaced());
        p.put("code", QualityThresholds.code());
        p.put("off", QualityThresholds.none());
        return p;
    }

    /** The domain's named preset, else the default for the text's scripts. */
    QualityThresholds qualityFor(String domain, Scripts scripts) {
        QualityThresholds named = quality.get(domain);
        if (named != null) return named;
        return scripts.mostlyUnspaced() ? unspacedQuality : defaultQuality;
    }
}
