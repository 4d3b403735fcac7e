package ipt.evaluator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class PromotionGateTest {
  private final PromotionGate gate = new PromotionGate(0.02);

  @Test
  void firstCheckpointIsPromotedWhenItsLossesAreFinite() {
    var verdict = gate.decide(List.of(new PromotionGate.Measure("heldout/en", 2.1, null, 10)), false);
    assertTrue(verdict.promote());
    assertEquals("first-checkpoint", verdict.rule());
  }

  @Test
  void nonFiniteLossIsNeverPromoted() {
    var verdict = gate.decide(List.of(new PromotionGate.Measure("heldout/en", Double.NaN, null, 10)), false);
    assertFalse(verdict.promote());
    assertEquals("non-finite", verdict.rule());
    assertFalse(gate.decide(List.of(new PromotionGate.Measure("heldout/en", Double.POSITIVE_INFINITY, 2.0, 10)), true).promote());
  }

  @Test
  void anOldDomainRisingPastTheBudgetBlocksPromotionEvenIfTheNewOneImproves() {
    var verdict = gate.decide(List.of(
        new PromotionGate.Measure("heldout/en", 2.10, 2.00, 10),   // +5%
        new PromotionGate.Measure("heldout/java", 1.50, 2.50, 10)), true);
    assertFalse(verdict.promote());
    assertEquals("regression:heldout/en", verdict.rule());
    assertTrue(verdict.reason().contains("+5.0%"), verdict.reason());
  }

  @Test
  void riseWithinBudgetPromotes() {
    var verdict = gate.decide(List.of(
        new PromotionGate.Measure("heldout/en", 2.03, 2.00, 10),   // +1.5%
        new PromotionGate.Measure("heldout/java", 1.50, 2.50, 10)), true);
    assertTrue(verdict.promote());
    assertEquals("no-regression", verdict.rule());
  }

  @Test
  void withoutHeldOutDataNothingIsPromoted() {
    assertFalse(gate.decide(List.of(), false).promote());
  }
}
