package ipt.trainer;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Properties;

/**
 * What the forgetting guards changed about a lineage, carried in every checkpoint so a restart keeps it:
 * the replay fraction rounds draw (raised by resets), the configured fraction it was raised from, the newest
 * rejected candidate a reset already answered, and how many resets there were.
 */
record LineageState(double replayFraction, double configuredFraction, long lastResetAfter, int resets) {

  static LineageState initial(double replayFraction) {
    return new LineageState(replayFraction, replayFraction, 0, 0);
  }

  /**
   * The state with {@code configured} (IPT_REPLAY_FRACTION now) as the base: what resets added to the old base is
   * added to the new one, up to {@code maxReplay}. Unchanged when the configuration is.
   */
  LineageState rebased(double configured, double maxReplay) {
    if (configured == configuredFraction) return this;
    double raise = replayFraction - configuredFraction;
    double fraction = raise > 0 ? Math.max(configured, Math.min(maxReplay, configured + raise)) : configured;
    return new LineageState(fraction, configured, lastResetAfter, resets);
  }

  /** After a reset that answered rejections up to {@code rejected}: {@code raise} more replay, up to {@code maxReplay}. */
  LineageState reset(double raise, double maxReplay, long rejected) {
    return new LineageState(Math.min(maxReplay, replayFraction + raise), configuredFraction, rejected, resets + 1);
  }

  /** Properties syntax without Properties.store's timestamp, so equal states give equal checkpoint files. */
  byte[] bytes() {
    return ("replayFraction=" + replayFraction + "\nconfiguredFraction=" + configuredFraction + "\nlastResetAfter="
        + lastResetAfter + "\nresets=" + resets + "\n").getBytes(StandardCharsets.ISO_8859_1);
  }

  /** A state written before configuredFraction was kept takes its fraction as configured: the configuration wins. */
  static LineageState parse(byte[] bytes) {
    Properties p = new Properties();
    try {
      p.load(new ByteArrayInputStream(bytes));
      double fraction = Double.parseDouble(p.getProperty("replayFraction"));
      return new LineageState(fraction, Double.parseDouble(p.getProperty("configuredFraction", String.valueOf(fraction))),
          Long.parseLong(p.getProperty("lastResetAfter")), Integer.parseInt(p.getProperty("resets")));
    } catch (IOException | RuntimeException e) {
      throw new IllegalStateException("unreadable lineage state: " + new String(bytes, StandardCharsets.UTF_8), e);
    }
  }
}
