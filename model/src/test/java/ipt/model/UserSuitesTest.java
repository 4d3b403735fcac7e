package ipt.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UserSuitesTest {
    @TempDir
    Path dir;

    @Test
    void textFilesDocumentsAndMultipleChoiceItems() throws Exception {
        Files.writeString(dir.resolve("contracts.txt"), "The party of the first part.");
        Files.writeString(dir.resolve("faq.jsonl"), "{\"text\": \"one\"}\n\n{\"text\": \"two\"}\n");
        Files.writeString(
                dir.resolve("cloze.jsonl"),
                "{\"context\": \"The cat sat on the\", \"choices\": [\" mat\", \" moon\"], \"answer\": 0}\n");
        Files.writeString(dir.resolve(".hidden"), "ignored");
        Files.writeString(dir.resolve("README.md"), "ignored: not a suite");
        List<Task> tasks = UserSuites.load(dir);
        assertEquals(
                List.of(
                        new Task.Choices(
                                "suite/cloze",
                                List.of(new Task.Item("The cat sat on the", List.of(" mat", " moon"), 0))),
                        new Task.Text("suite/contracts", List.of("The party of the first part.")),
                        new Task.Text("suite/faq", List.of("one", "two"))),
                tasks);
        assertEquals(List.of(), UserSuites.load(null));
    }

    @Test
    void aMalformedSuiteIsRefusedSayingWhere() throws Exception {
        assertRefused(
                "bad.jsonl",
                "{\"context\": \"x\", \"choices\": [\"a\", \"b\"], \"answer\": 2}\n",
                "bad.jsonl:1: answer 2 is not one of the 2 choices");
        assertRefused("bad.jsonl", "{\"text\": \"ok\"}\n{not json\n", "bad.jsonl:2: not JSON");
        assertRefused("bad.jsonl", "{\"context\": \"x\", \"choices\": [\"a\"], \"answer\": 0}\n", "at least 2 choices");
        assertRefused(
                "bad.jsonl",
                "{\"context\": \"x\", \"choices\": [\"a\", \"\"], \"answer\": 0}\n",
                "every choice must be a non-empty string");
        assertRefused(
                "bad.jsonl",
                "{\"context\": 3, \"choices\": [\"a\", \"b\"], \"answer\": 0}\n",
                "\"context\" must be a string");
        assertRefused(
                "bad.jsonl",
                "{\"text\": \"a\"}\n{\"context\": \"x\", \"choices\": [\"a\", \"b\"], \"answer\": 0}\n",
                "mixes text documents and multiple-choice items");
        assertRefused("bad.jsonl", "{\"title\": \"a\"}\n", "expected {\"text\": ...}");
        assertRefused("bad.txt", "  \n", "empty text suite");
        String missing = assertThrows(IllegalArgumentException.class, () -> UserSuites.load(dir.resolve("nope")))
                .getMessage();
        assertTrue(missing.contains("does not exist"), missing);
    }

    private void assertRefused(String name, String content, String expected) throws Exception {
        Path suites = Files.createTempDirectory(dir, "suites");
        Files.writeString(suites.resolve(name), content);
        String message = assertThrows(IllegalArgumentException.class, () -> UserSuites.load(suites))
                .getMessage();
        assertTrue(message.contains(expected), message);
    }
}
