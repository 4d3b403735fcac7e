package ipt.evaluator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GateRulesTest {
    @TempDir
    Path dir;

    private GateRules load(String yaml) throws Exception {
        Path file = dir.resolve("rules.yaml");
        Files.writeString(file, yaml);
        return GateRules.load(file);
    }

    @Test
    void readsTasksAndTarget() throws Exception {
        GateRules rules = load("""
        tasks:
          - task: "heldout/*"
            metric: loss
            valueThreshold: 5.5
            changeThreshold: {relative: 0.02, absolute: 0.05}
          - task: suite/cloze
            metric: acc
            changeThreshold: {absolute: 0.05}
        target:
          minImprovement: {relative: 0.005}
        """);
        assertEquals(1, rules.rulesFor("heldout/en", "loss").size());
        assertEquals(0, rules.rulesFor("heldout/en", "acc").size());
        assertEquals(0, rules.rulesFor("suite/cloze-2", "acc").size());
        assertEquals(
                new GateRules.Change(0.02, 0.05),
                rules.rulesFor("heldout/de", "loss").get(0).change());
        assertEquals(
                "heldout/de", rules.target().taskFor("main", "heldout/de"), "target defaults to the newest domain");
        assertEquals("loss", rules.target().metric());
    }

    @Test
    void refusesWhatItCannotMeanSayingWhere() {
        String unknownKey = assertThrows(
                        IllegalArgumentException.class,
                        () -> load("tasks:\n  - task: x\n    metric: loss\n    budget: 0.1\n"))
                .getMessage();
        assertTrue(unknownKey.contains("tasks[0]: unknown key budget"), unknownKey);
        String metric = assertThrows(
                        IllegalArgumentException.class,
                        () -> load("tasks:\n  - task: x\n    metric: bleu\n    valueThreshold: 1\n"))
                .getMessage();
        assertTrue(metric.contains("metric must be loss, acc or acc_norm"), metric);
        String empty = assertThrows(
                        IllegalArgumentException.class, () -> load("tasks:\n  - task: x\n    metric: loss\n"))
                .getMessage();
        assertTrue(empty.contains("sets neither valueThreshold nor changeThreshold"), empty);
        String negative = assertThrows(
                        IllegalArgumentException.class,
                        () -> load("tasks:\n  - task: x\n    changeThreshold: {relative: -0.1}\n"))
                .getMessage();
        assertTrue(negative.contains("not negative"), negative);
        String target = assertThrows(IllegalArgumentException.class, () -> load("target:\n  task: newest\n"))
                .getMessage();
        assertTrue(target.contains("minImprovement"), target);
        String notYaml = assertThrows(IllegalArgumentException.class, () -> load("tasks: [\n"))
                .getMessage();
        assertTrue(notYaml.contains("not YAML"), notYaml);
    }

    @Test
    void defaultsBoundEveryLossByTheBudget() {
        GateRules rules = GateRules.defaults(0.02);
        assertEquals(
                new GateRules.Change(0.02, null),
                rules.rulesFor("suite/anything", "loss").get(0).change());
        assertEquals(0, rules.rulesFor("suite/anything", "acc").size());
        assertEquals(null, rules.target());
    }
}
