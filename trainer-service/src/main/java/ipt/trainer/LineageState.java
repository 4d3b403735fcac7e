package ipt.trainer;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Properties;

/**
 * What the forgetting guards changed about a lineage, carried in every checkpoint so a restart keeps it:
 * the replay fraction (raised by resets), the newest rejected candidate a reset already answered, and
 * how many resets there were.
 */
record LineageState(double replayFraction, long lastResetAfter, int resets) {

  static LineageState initial(double replayFraction) {
    return new LineageState(replayFraction, 0, 0);
  }

  /** Properties syntax without Properties.store's timestamp, so equal states give equal checkpoint files. */
  byte[] bytes() {
    return ("replayFraction=" + replayFraction + "\nlastResetAfter=" + lastResetAfter + "\nresets=" + resets + "\n")
        .getBytes(StandardCharsets.ISO_8859_1);
  }

  static LineageState parse(byte[] bytes) {
    Properties p = new Properties();
    try {
      p.load(new ByteArrayInputStream(bytes));
      return new LineageState(Double.parseDouble(p.getProperty("replayFraction")), Long.parseLong(p.getProperty("lastResetAfter")),
          Integer.parseInt(p.getProperty("resets")));
    } catch (IOException | RuntimeException e) {
      throw new IllegalStateException("unreadable lineage state: " + new String(bytes, StandardCharsets.UTF_8), e);
    }
  }
}
