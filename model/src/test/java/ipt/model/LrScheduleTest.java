package ipt.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LrScheduleTest {

  private static final TrainConfig C = TrainConfig.defaults(); // max 1e-3, min 1e-4, warmup 20

  @Test
  void warmsUpThenDecaysToMinAtTheRoundsEnd() {
    assertEquals(1e-3f / 20, LrSchedule.at(0, 200, C), 1e-9f);
    assertEquals(1e-3f, LrSchedule.at(19, 200, C), 1e-9f);
    assertEquals(1e-3f, LrSchedule.at(20, 200, C), 1e-9f);
    assertEquals(1e-4f, LrSchedule.at(199, 200, C), 1e-9f);
    assertEquals(1e-4f, LrSchedule.at(250, 200, C), 1e-9f);
    for (int s = 21; s < 200; s++) {
      assertTrue(LrSchedule.at(s, 200, C) <= LrSchedule.at(s - 1, 200, C), "monotone decay at " + s);
    }
  }

  @Test
  void shortRoundsWarmUpForAQuarterOfTheirSteps() {
    assertEquals(1e-3f / 5, LrSchedule.at(0, 20, C), 1e-9f);
    assertEquals(1e-3f, LrSchedule.at(4, 20, C), 1e-9f);
    assertEquals(1e-4f, LrSchedule.at(19, 20, C), 1e-9f);
    assertEquals(1e-3f, LrSchedule.at(0, 1, C), 1e-9f);
  }
}
