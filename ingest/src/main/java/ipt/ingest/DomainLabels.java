package ipt.ingest;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Domains as metric labels. Domains are producer-chosen, so their number is capped: past {@link #MAX}
 * distinct ones, new ones are counted as "other", and a domain breaking the naming rule as "invalid".
 */
final class DomainLabels {
    static final int MAX = 100;
    static final String OTHER = "other";
    static final String INVALID = "invalid";
    /** The label of records not yet parsed. */
    static final String UNPARSED = "unparsed";

    private final Set<String> seen = ConcurrentHashMap.newKeySet();

    String of(String domain) {
        if (domain == null) return UNPARSED;
        if (domain.equals(UNPARSED)) return domain;
        if (!DocumentValidator.DOMAIN.matcher(domain).matches()) return INVALID;
        if (seen.contains(domain)) return domain;
        if (seen.size() >= MAX) return OTHER;
        seen.add(domain);
        return domain;
    }
}
