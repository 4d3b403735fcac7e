package ipt.evaluator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class PromotionGateTest {
  private static final PromotionGate DEFAULTS = new PromotionGate(GateRules.defaults(0.02));

  private static PromotionGate gate(String yaml) throws Exception {
    return new PromotionGate(GateRules.parse(new ObjectMapper(new YAMLFactory()).readTree(yaml), "test"));
  }

  private static PromotionGate.Measure loss(String task, double candidate, Double champion) {
    return new PromotionGate.Measure(task, "loss", candidate, champion, 8);
  }

  private static List<String> rules(PromotionGate.Verdict v) {
    return v.outcomes().stream().map(o -> o.rule() + "=" + (o.passed() ? "pass" : "fail")).collect(Collectors.toList());
  }

  @Test
  void withoutAChampionOnlyValueThresholdsApply() throws Exception {
    PromotionGate gate = gate("""
        tasks:
          - task: "heldout/*"
            metric: loss
            valueThreshold: 3.0
            changeThreshold: {relative: 0.02}
        """);
    PromotionGate.Verdict first = gate.decide("main", List.of(loss("heldout/en", 2.5, null)), false, "heldout/en");
    assertTrue(first.promote());
    assertEquals("first-checkpoint", first.rule());
    assertEquals(List.of("non-finite:heldout/en/loss=pass", "value:heldout/en/loss=pass"), rules(first));

    PromotionGate.Verdict tooHigh = gate.decide("main", List.of(loss("heldout/en", 3.5, null)), false, "heldout/en");
    assertFalse(tooHigh.promote());
    assertEquals("value:heldout/en/loss", tooHigh.rule());
    assertEquals("loss 3.5000, must be <= 3.0000", tooHigh.reason());
  }

  @Test
  void anyNonFiniteMetricRejectsFirst() {
    PromotionGate.Verdict v = DEFAULTS.decide("main", List.of(loss("heldout/en", 2.0, 2.0), loss("heldout/de", Double.NaN, 2.0)), true, "heldout/de");
    assertFalse(v.promote());
    assertEquals("non-finite:heldout/de/loss", v.rule());
  }

  @Test
  void theWorstRegressionPastItsBudgetDecides() {
    PromotionGate.Verdict v = DEFAULTS.decide("main", List.of(
        loss("heldout/en", 2.10, 2.0),   // +5%
        loss("heldout/java", 2.40, 2.0), // +20%
        loss("heldout/de", 1.90, 2.0)), true, "heldout/de");
    assertFalse(v.promote());
    assertEquals("regression:heldout/java/loss", v.rule());
    assertTrue(v.reason().contains("heldout/java/loss 2.0000 -> 2.4000 (+20.00%; at most 2.00% worse)"), v.reason());
    assertTrue(v.reason().contains("heldout/en/loss"), v.reason());
    assertEquals(List.of("non-finite:heldout/en/loss=pass", "non-finite:heldout/java/loss=pass", "non-finite:heldout/de/loss=pass",
        "regression:heldout/en/loss=fail", "regression:heldout/java/loss=fail", "regression:heldout/de/loss=pass"), rules(v));
    assertFalse(PromotionGate.passed(v, loss("heldout/java", 2.40, 2.0)));
    assertTrue(PromotionGate.passed(v, loss("heldout/de", 1.90, 2.0)));
  }

  @Test
  void withinBudgetPromotes() {
    PromotionGate.Verdict v = DEFAULTS.decide("main", List.of(loss("heldout/en", 2.03, 2.0), loss("heldout/de", 1.5, 2.0)), true, "heldout/de");
    assertTrue(v.promote(), v.reason());
    assertEquals("no-regression", v.rule());
  }

  @Test
  void accuracyIsHigherIsBetterWithAbsoluteAndRelativeChange() throws Exception {
    PromotionGate gate = gate("""
        tasks:
          - task: "suite/*"
            metric: acc
            valueThreshold: 0.3
            changeThreshold: {absolute: 0.05, relative: 0.5}
        """);
    PromotionGate.Measure fell = new PromotionGate.Measure("suite/cloze", "acc", 0.40, 0.50, 200);
    PromotionGate.Verdict v = gate.decide("main", List.of(fell), true, null);
    assertEquals("regression:suite/cloze/acc", v.rule(), "0.10 down is past the 0.05 absolute bound though within 50%");
    PromotionGate.Measure rose = new PromotionGate.Measure("suite/cloze", "acc", 0.55, 0.50, 200);
    assertTrue(gate.decide("main", List.of(rose), true, null).promote());
    PromotionGate.Measure low = new PromotionGate.Measure("suite/cloze", "acc", 0.29, null, 200);
    assertEquals("value:suite/cloze/acc", gate.decide("main", List.of(low), false, null).rule());
  }

  @Test
  void theTargetTaskMustImproveByItsMinimum() throws Exception {
    PromotionGate gate = gate("""
        tasks:
          - task: "*"
            metric: loss
            changeThreshold: {relative: 0.02}
        target:
          task: newest
          lineages: {legal: heldout/en}
          minImprovement: {relative: 0.01}
        """);
    List<PromotionGate.Measure> flat = List.of(loss("heldout/en", 2.0, 2.0), loss("heldout/de", 1.995, 2.0));
    PromotionGate.Verdict v = gate.decide("main", flat, true, "heldout/de");
    assertFalse(v.promote());
    assertEquals("target:heldout/de/loss", v.rule());
    assertTrue(v.reason().contains("at least 1.00% better"), v.reason());
    List<PromotionGate.Measure> better = List.of(loss("heldout/en", 2.0, 2.0), loss("heldout/de", 1.9, 2.0));
    assertTrue(gate.decide("main", better, true, "heldout/de").promote());
    assertEquals("target:heldout/en/loss", gate.decide("legal", better, true, "heldout/de").rule(), "legal's own target is en, which did not improve");
    assertTrue(gate.decide("main", better, false, "heldout/de").promote(), "no champion: no target to beat");
  }

  @Test
  void noTasksRejects() {
    assertEquals("no-tasks", DEFAULTS.decide("main", List.of(), false, null).rule());
  }
}
