package ipt.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class CurationConfigTest {
    private static final Scripts LATIN = Scripts.of("Guten Tag, meine Damen und Herren.");
    private static final Scripts CHINESE = Scripts.of("欧洲议会今天通过了关于渔业政策的决议。");

    @Test
    void defaultsJudgeEnglishCodeAndOtherDomainsEachByTheirPreset() {
        CurationConfig c = CurationConfig.defaults();
        assertEquals(QualityThresholds.english(), c.qualityFor("en", LATIN));
        assertEquals(QualityThresholds.code(), c.qualityFor("java", CHINESE));
        assertEquals(QualityThresholds.prose(), c.qualityFor("de", LATIN));
        assertTrue(c.nearDup().isPresent());
    }

    @Test
    void aDomainNotNamedGetsThePresetOfItsTextsScripts() {
        CurationConfig c = CurationConfig.defaults();
        assertEquals(QualityThresholds.unspaced(), c.qualityFor("zh", CHINESE));
        assertEquals(
                QualityThresholds.unspaced(), c.qualityFor("news", Scripts.of("東京でAI会議が開かれた。Transformerの話が中心だった。")));
        assertEquals(QualityThresholds.prose(), c.qualityFor("news", LATIN));
        CurationConfig named = CurationConfig.fromEnv(Map.of("IPT_QUALITY_ZH", "prose"));
        assertEquals(
                QualityThresholds.prose(), named.qualityFor("zh", CHINESE), "a named preset applies to every script");
        assertEquals(
                QualityThresholds.none(),
                CurationConfig.fromEnv(Map.of("IPT_QUALITY_DEFAULT", "off")).qualityFor("ja", CHINESE));
    }

    @Test
    void environmentPicksPresetsPerDomainAndTurnsNearDupOff() {
        CurationConfig c = CurationConfig.fromEnv(Map.of(
                "IPT_QUALITY_DEFAULT",
                "off",
                "IPT_QUALITY_EN_GB",
                "english",
                "IPT_QUALITY_JAVA",
                "off",
                "IPT_NEAR_DUP",
                "off",
                "IPT_HELDOUT_FRACTION",
                "0.1"));
        assertEquals(QualityThresholds.none(), c.qualityFor("fr", LATIN));
        assertEquals(QualityThresholds.english(), c.qualityFor("en-gb", LATIN));
        assertEquals(QualityThresholds.none(), c.qualityFor("java", LATIN));
        assertTrue(c.nearDup().isEmpty());
        assertEquals(0.1, c.heldoutFraction());
    }

    @Test
    void aWrongSettingIsAClearError() {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class, () -> CurationConfig.fromEnv(Map.of("IPT_QUALITY_EN", "strict")));
        assertEquals("IPT_QUALITY_EN=strict: must be one of english, prose, unspaced, code, off", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> CurationConfig.fromEnv(Map.of("IPT_NEAR_DUP", "yes")));
    }

    @Test
    void theDedupHorizonIsThirtyDaysUnlessSetOrOff() {
        assertEquals(
                Optional.of(Duration.ofDays(30)),
                CurationConfig.fromEnv(Map.of()).dedupHorizon());
        assertEquals(
                Optional.of(Duration.ofHours(12)),
                CurationConfig.fromEnv(Map.of("IPT_DEDUP_HORIZON", "12h")).dedupHorizon());
        assertEquals(
                Optional.empty(),
                CurationConfig.fromEnv(Map.of("IPT_DEDUP_HORIZON", "off")).dedupHorizon());
    }
}
