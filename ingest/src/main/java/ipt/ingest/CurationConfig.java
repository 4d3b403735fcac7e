package ipt.ingest;

import java.util.HashMap;
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
 * @param nearDup MinHash near-duplicate removal; empty: off
 * @param newDomainHeldoutBytes held-out bytes a new domain takes from half of its first documents before the
 *     hash split takes over, so it becomes an evaluator task soon (0: off)
 */
public record CurationConfig(
    double heldoutFraction, int minTextChars, int maxTextChars, int maxIdChars, String dedupStoreName,
    Map<String, QualityThresholds> quality, QualityThresholds defaultQuality, Optional<MinHash.Config> nearDup, int newDomainHeldoutBytes) {

  /** Twice the evaluator's default snapshot (8,256 bytes): a new domain is a task after about 32 KB of its text. */
  public static final int NEW_DOMAIN_HELDOUT_BYTES = 16 * 1024;

  /** Domains that get the code preset by default. */
  private static final String[] CODE_DOMAINS = {"code", "java", "python", "c", "cpp", "csharp", "go", "rust", "javascript", "typescript",
      "kotlin", "scala", "ruby", "php", "shell", "sql"};

  public CurationConfig {
    if (!(heldoutFraction >= 0 && heldoutFraction <= 1)) {
      throw new IllegalArgumentException("heldoutFraction must be in [0, 1]: " + heldoutFraction);
    }
    if (minTextChars < 1 || maxTextChars < minTextChars) {
      throw new IllegalArgumentException("need 1 <= minTextChars <= maxTextChars: " + minTextChars + ", " + maxTextChars);
    }
    if (newDomainHeldoutBytes < 0) throw new IllegalArgumentException("newDomainHeldoutBytes must not be negative: " + newDomainHeldoutBytes);
    if (maxIdChars < 1) throw new IllegalArgumentException("maxIdChars must be positive: " + maxIdChars);
    if (dedupStoreName == null || dedupStoreName.isBlank()) {
      throw new IllegalArgumentException("dedupStoreName must be set");
    }
    quality = Map.copyOf(quality);
  }

  /** 5% held out; English prose rules for en, code rules for code domains, prose rules for the rest; near-dup 14×8. */
  public static CurationConfig defaults() {
    Map<String, QualityThresholds> quality = new HashMap<>();
    quality.put("en", QualityThresholds.english());
    for (String code : CODE_DOMAINS) quality.put(code, QualityThresholds.code());
    return new CurationConfig(0.05, 1, 1_000_000, 256, "dedup-content-hashes", quality, QualityThresholds.prose(),
        Optional.of(MinHash.Config.defaults()), NEW_DOMAIN_HELDOUT_BYTES);
  }

  public CurationConfig withHeldoutFraction(double fraction) {
    return new CurationConfig(fraction, minTextChars, maxTextChars, maxIdChars, dedupStoreName, quality, defaultQuality, nearDup, newDomainHeldoutBytes);
  }

  public CurationConfig withTextChars(int min, int max) {
    return new CurationConfig(heldoutFraction, min, max, maxIdChars, dedupStoreName, quality, defaultQuality, nearDup, newDomainHeldoutBytes);
  }

  /** Only validation and exact dedup: no quality filter, no near-dup removal. */
  public CurationConfig withoutContentFilters() {
    return new CurationConfig(heldoutFraction, minTextChars, maxTextChars, maxIdChars, dedupStoreName, Map.of(), QualityThresholds.none(),
        Optional.empty(), newDomainHeldoutBytes);
  }

  public CurationConfig withNewDomainHeldoutBytes(int bytes) {
    return new CurationConfig(heldoutFraction, minTextChars, maxTextChars, maxIdChars, dedupStoreName, quality, defaultQuality, nearDup, bytes);
  }

  public CurationConfig withQuality(String domain, QualityThresholds thresholds) {
    Map<String, QualityThresholds> q = new HashMap<>(quality);
    q.put(domain, thresholds);
    return new CurationConfig(heldoutFraction, minTextChars, maxTextChars, maxIdChars, dedupStoreName, q, defaultQuality, nearDup, newDomainHeldoutBytes);
  }

  public CurationConfig withDefaultQuality(QualityThresholds thresholds) {
    return new CurationConfig(heldoutFraction, minTextChars, maxTextChars, maxIdChars, dedupStoreName, quality, thresholds, nearDup, newDomainHeldoutBytes);
  }

  public CurationConfig withNearDup(Optional<MinHash.Config> config) {
    return new CurationConfig(heldoutFraction, minTextChars, maxTextChars, maxIdChars, dedupStoreName, quality, defaultQuality, config, newDomainHeldoutBytes);
  }

  /**
   * The defaults, changed by: {@code IPT_HELDOUT_FRACTION}; {@code IPT_HELDOUT_NEW_DOMAIN_BYTES}; {@code IPT_QUALITY_DEFAULT} and
   * {@code IPT_QUALITY_<DOMAIN>} (domain upper-cased, {@code -}/{@code .} as {@code _}), each one of
   * {@code english}, {@code prose}, {@code code}, {@code off}; {@code IPT_NEAR_DUP} ({@code on}/{@code off}).
   */
  public static CurationConfig fromEnv(Map<String, String> env) {
    CurationConfig c = defaults();
    String fraction = env.get("IPT_HELDOUT_FRACTION");
    if (fraction != null) c = c.withHeldoutFraction(Double.parseDouble(fraction.strip()));
    String newDomain = env.get("IPT_HELDOUT_NEW_DOMAIN_BYTES");
    if (newDomain != null) c = c.withNewDomainHeldoutBytes(Integer.parseInt(newDomain.strip()));
    for (Map.Entry<String, String> e : env.entrySet()) {
      if (!e.getKey().startsWith("IPT_QUALITY_")) continue;
      String domain = e.getKey().substring("IPT_QUALITY_".length()).toLowerCase(Locale.ROOT).replace('_', '-');
      QualityThresholds preset = preset(e.getKey(), e.getValue());
      c = domain.equals("default") ? c.withDefaultQuality(preset) : c.withQuality(domain, preset);
    }
    String nearDup = env.getOrDefault("IPT_NEAR_DUP", "on").strip();
    if (!nearDup.equals("on") && !nearDup.equals("off")) throw new IllegalArgumentException("IPT_NEAR_DUP must be on or off, not '" + nearDup + "'");
    return nearDup.equals("off") ? c.withNearDup(Optional.empty()) : c;
  }

  private static QualityThresholds preset(String variable, String name) {
    return switch (name.strip()) {
      case "english" -> QualityThresholds.english();
      case "prose" -> QualityThresholds.prose();
      case "code" -> QualityThresholds.code();
      case "off" -> QualityThresholds.none();
      default -> throw new IllegalArgumentException(variable + " must be english, prose, code or off, not '" + name + "'");
    };
  }

  QualityThresholds qualityFor(String domain) {
    return quality.getOrDefault(domain, defaultQuality);
  }
}
