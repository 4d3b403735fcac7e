package ipt.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class CurationConfigTest {
  @Test
  void defaultsJudgeEnglishCodeAndOtherDomainsEachByTheirPreset() {
    CurationConfig c = CurationConfig.defaults();
    assertEquals(QualityThresholds.english(), c.qualityFor("en"));
    assertEquals(QualityThresholds.code(), c.qualityFor("java"));
    assertEquals(QualityThresholds.prose(), c.qualityFor("de"));
    assertTrue(c.nearDup().isPresent());
  }

  @Test
  void environmentPicksPresetsPerDomainAndTurnsNearDupOff() {
    CurationConfig c = CurationConfig.fromEnv(Map.of("IPT_QUALITY_DEFAULT", "off", "IPT_QUALITY_EN_GB", "english",
        "IPT_QUALITY_JAVA", "off", "IPT_NEAR_DUP", "off", "IPT_HELDOUT_FRACTION", "0.1"));
    assertEquals(QualityThresholds.none(), c.qualityFor("fr"));
    assertEquals(QualityThresholds.english(), c.qualityFor("en-gb"));
    assertEquals(QualityThresholds.none(), c.qualityFor("java"));
    assertTrue(c.nearDup().isEmpty());
    assertEquals(0.1, c.heldoutFraction());
  }

  @Test
  void aWrongSettingIsAClearError() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CurationConfig.fromEnv(Map.of("IPT_QUALITY_EN", "strict")));
    assertEquals("IPT_QUALITY_EN=strict: must be one of english, prose, code, off", e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> CurationConfig.fromEnv(Map.of("IPT_NEAR_DUP", "yes")));
  }
}
