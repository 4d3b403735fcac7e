package ipt.trainer;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * What the forgetting guards and the gate's reports changed about a lineage, carried in every checkpoint so a
 * restart keeps it: the replay fraction and mixture the round trained with, the configured fraction it was
 * steered or raised from, the newest rejected candidate a recovery already answered, how many recoveries there
 * were, the settled evidence (which reports it rests on: {@link GateEvidence#evaluatedThrough}) and how many waits
 * for a report ran out.
 */
record LineageState(
        double replayFraction,
        double configuredFraction,
        long lastResetAfter,
        int resets,
        GateEvidence evidence,
        SortedMap<String, Double> shares,
        int timedOutWaits) {

    LineageState {
        shares = java.util.Collections.unmodifiableSortedMap(new TreeMap<>(shares));
    }

    static LineageState initial(double replayFraction) {
        return new LineageState(replayFraction, replayFraction, 0, 0, GateEvidence.NONE, new TreeMap<>(), 0);
    }

    /**
     * The state with {@code configured} (IPT_REPLAY_FRACTION now) as the base: what recoveries or the gain added to the
     * old base is added to the new one, up to {@code maxReplay}. Unchanged when the configuration is.
     */
    LineageState rebased(double configured, double maxReplay) {
        if (configured == configuredFraction) return this;
        double raise = replayFraction - configuredFraction;
        double fraction = raise > 0 ? Math.max(configured, Math.min(maxReplay, configured + raise)) : configured;
        return new LineageState(fraction, configured, lastResetAfter, resets, evidence, shares, timedOutWaits);
    }

    LineageState with(double fraction, SortedMap<String, Double> newShares) {
        return new LineageState(
                fraction, configuredFraction, lastResetAfter, resets, evidence, newShares, timedOutWaits);
    }

    LineageState recovered(double fraction, long after) {
        return new LineageState(fraction, configuredFraction, after, resets + 1, evidence, shares, timedOutWaits);
    }

    LineageState answered(long after) {
        return new LineageState(replayFraction, configuredFraction, after, resets, evidence, shares, timedOutWaits);
    }

    /**
     * This state with the settled {@code reports} (oldest first, all after {@code evidence().evaluatedThrough()})
     * folded
     * in and the next round's replay fraction set from them, where the gain steers it; {@code domains}: those
     * trained on.
     */
    LineageState settled(
            List<GateEvidence.Evaluated> reports, int waitsTimedOut, TrainerConfig config, Collection<String> domains) {
        GateEvidence e = evidence;
        for (GateEvidence.Evaluated r : reports) e = e.fold(r);
        TrainerConfig.Steering st = config.steering();
        double fraction = st.gain() > 0
                ? ReplayMixture.fraction(
                        e,
                        domains,
                        config.replay().fraction(),
                        config.forgetting().maxReplay(),
                        st.gain())
                : replayFraction;
        return new LineageState(fraction, configuredFraction, lastResetAfter, resets, e, shares, waitsTimedOut);
    }

    /** Properties syntax without Properties.store's timestamp, so equal states give equal checkpoint files. */
    byte[] bytes() {
        GateEvidence e = evidence;
        return ("replayFraction=" + replayFraction + "\nconfiguredFraction=" + configuredFraction + "\nlastResetAfter="
                        + lastResetAfter + "\nresets=" + resets + "\nreplayShares=" + map(shares)
                        + "\nevaluatedThrough="
                        + e.evaluatedThrough() + "\nchampion=" + e.champion() + "\nbest=" + map(e.best()) + "\nlatest="
                        + map(e.latest())
                        + "\nrejectedSince="
                        + String.join(
                                ",",
                                e.rejectedSince().stream().map(String::valueOf).toList())
                        + "\nlatestOverall=" + e.latestOverall() + "\ntimedOutWaits=" + timedOutWaits + "\n")
                .getBytes(StandardCharsets.ISO_8859_1);
    }

    /** A state written before configuredFraction was kept takes its fraction as configured: the configuration wins. */
    static LineageState parse(byte[] bytes) {
        Properties p = new Properties();
        try {
            p.load(new ByteArrayInputStream(bytes));
            List<Long> rejected = new ArrayList<>();
            for (String v : p.getProperty("rejectedSince", "").split(","))
                if (!v.isEmpty()) rejected.add(Long.parseLong(v));
            // States written before the gate's evidence was kept have none of it.
            GateEvidence evidence = new GateEvidence(
                    Long.parseLong(p.getProperty("evaluatedThrough", "0")),
                    Long.parseLong(p.getProperty("champion", "0")),
                    map(p.getProperty("best", "")),
                    map(p.getProperty("latest", "")),
                    rejected,
                    Double.parseDouble(p.getProperty("latestOverall", "NaN")));
            double fraction = Double.parseDouble(p.getProperty("replayFraction"));
            return new LineageState(
                    fraction,
                    Double.parseDouble(p.getProperty("configuredFraction", String.valueOf(fraction))),
                    Long.parseLong(p.getProperty("lastResetAfter")),
                    Integer.parseInt(p.getProperty("resets")),
                    evidence,
                    map(p.getProperty("replayShares", "")),
                    Integer.parseInt(p.getProperty("timedOutWaits", "0")));
        } catch (IOException | RuntimeException e) {
            throw new IllegalStateException(
                    "unreadable lineage state: " + new String(bytes, StandardCharsets.UTF_8), e);
        }
    }

    /** domain:value pairs, domains URL-encoded so any name survives; Double.toString round-trips exactly. */
    private static String map(SortedMap<String, Double> m) {
        List<String> pairs = new ArrayList<>();
        for (Map.Entry<String, Double> e : m.entrySet())
            pairs.add(URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8) + ":" + e.getValue());
        return String.join(",", pairs);
    }

    private static SortedMap<String, Double> map(String s) {
        SortedMap<String, Double> out = new TreeMap<>();
        for (String pair : s.split(",")) {
            if (pair.isEmpty()) continue;
            int colon = pair.lastIndexOf(':');
            out.put(
                    URLDecoder.decode(pair.substring(0, colon), StandardCharsets.UTF_8),
                    Double.parseDouble(pair.substring(colon + 1)));
        }
        return out;
    }
}
