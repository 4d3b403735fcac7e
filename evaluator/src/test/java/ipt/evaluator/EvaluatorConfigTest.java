package ipt.evaluator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvaluatorConfigTest {
    @TempDir
    Path dir;

    @Test
    void theStreamPolicyIsTheDefault() throws Exception {
        GatePolicy gate = EvaluatorConfig.fromEnv(Map.of()).gate();
        assertEquals(new GatePolicy(GatePolicy.STREAM, GateRules.defaults(0.10), 0.10, 0.0, 0.05), gate);
        assertEquals(
                EvaluatorConfig.STALL_AFTER, EvaluatorConfig.fromEnv(Map.of()).stallAfter());
        GatePolicy tuned = EvaluatorConfig.fromEnv(Map.of(
                        "IPT_REGRESSION_BUDGET",
                        "0.05",
                        "IPT_GATE_AVERAGE_BUDGET",
                        "0.01",
                        "IPT_GATE_BEST_BOUND",
                        "off"))
                .gate();
        assertEquals(0.05, tuned.taskCap());
        assertEquals(0.01, tuned.averageBudget());
        assertNull(tuned.bestBound());
    }

    @Test
    void aRulesFileSelectsTheRulesPolicyAndOnlyIt() throws Exception {
        Path yaml = Files.writeString(
                dir.resolve("rules.yaml"), "tasks:\n  - task: \"*\"\n    changeThreshold: {relative: 0.01}\n");
        GatePolicy rules = EvaluatorConfig.fromEnv(Map.of("IPT_GATE_RULES", yaml.toString()))
                .gate();
        assertEquals(GatePolicy.RULES, rules.name());
        assertEquals(0.01, rules.rules().tasks().get(0).change().relative());
        assertEquals(GatePolicy.BEST_BOUND, rules.bestBound(), "the bound against the best holds under either policy");
        assertEquals(
                GateRules.defaults(0.02),
                EvaluatorConfig.fromEnv(Map.of("IPT_GATE_POLICY", "rules", "IPT_REGRESSION_BUDGET", "0.02"))
                        .gate()
                        .rules());
        String both = assertThrows(
                        IllegalArgumentException.class,
                        () -> EvaluatorConfig.fromEnv(
                                Map.of("IPT_GATE_POLICY", "stream", "IPT_GATE_RULES", yaml.toString())))
                .getMessage();
        assertTrue(both.contains("IPT_GATE_RULES applies to IPT_GATE_POLICY=rules"), both);
        String unknown = assertThrows(
                        IllegalArgumentException.class,
                        () -> EvaluatorConfig.fromEnv(Map.of("IPT_GATE_POLICY", "lenient")))
                .getMessage();
        assertEquals("IPT_GATE_POLICY=lenient: must be `stream` or `rules`", unknown);
        assertThrows(
                IllegalArgumentException.class, () -> EvaluatorConfig.fromEnv(Map.of("IPT_GATE_BEST_BOUND", "-0.1")));
    }
}
