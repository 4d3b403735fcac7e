package ipt.ingest;

/**
 * What the curation topology accepts and how it splits.
 *
 * @param heldoutFraction share of documents (by a hash of their id) routed to the held-out topic, in [0, 1]
 * @param minTextChars shortest normalised text accepted, in UTF-16 chars
 * @param maxTextChars longest normalised text accepted, in UTF-16 chars
 * @param maxIdChars longest document id accepted
 * @param dedupStoreName the state store of content hashes already seen (its changelog topic is named after it)
 */
public record CurationConfig(
    double heldoutFraction, int minTextChars, int maxTextChars, int maxIdChars, String dedupStoreName) {

  public CurationConfig {
    if (!(heldoutFraction >= 0 && heldoutFraction <= 1)) {
      throw new IllegalArgumentException("heldoutFraction must be in [0, 1]: " + heldoutFraction);
    }
    if (minTextChars < 1 || maxTextChars < minTextChars) {
      throw new IllegalArgumentException("need 1 <= minTextChars <= maxTextChars: " + minTextChars + ", " + maxTextChars);
    }
    if (maxIdChars < 1) throw new IllegalArgumentException("maxIdChars must be positive: " + maxIdChars);
    if (dedupStoreName == null || dedupStoreName.isBlank()) {
      throw new IllegalArgumentException("dedupStoreName must be set");
    }
  }

  public static CurationConfig defaults() {
    return new CurationConfig(0.05, 1, 1_000_000, 256, "dedup-content-hashes");
  }

  public CurationConfig withHeldoutFraction(double fraction) {
    return new CurationConfig(fraction, minTextChars, maxTextChars, maxIdChars, dedupStoreName);
  }

  public CurationConfig withTextChars(int min, int max) {
    return new CurationConfig(heldoutFraction, min, max, maxIdChars, dedupStoreName);
  }
}
