package ipt.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Tasks a team brings, from the files of one directory (a Kubernetes ConfigMap mounts as one), each a task
 * named {@code suite/<file name without extension>}: {@code .txt} is plain text scored by loss (and so
 * perplexity); {@code .jsonl} holds either {@code {"text": ...}} documents (loss) or multiple-choice items
 * {@code {"context": ..., "choices": [...], "answer": i}} (acc, acc_norm), one JSON object per line.
 */
public final class UserSuites {
    private static final ObjectMapper JSON = new ObjectMapper();

    private UserSuites() {}

    /** The suites in {@code dir}, by file name; none when {@code dir} is null. A malformed file is refused, saying
     * where. */
    public static List<Task> load(Path dir) throws IOException {
        List<Task> tasks = new ArrayList<>();
        if (dir == null) return tasks;
        if (!Files.isDirectory(dir))
            throw new IllegalArgumentException("evaluation suites directory " + dir + " does not exist");
        List<Path> files;
        try (Stream<Path> list = Files.list(dir)) {
            files = list.filter(Files::isRegularFile).sorted().toList();
        }
        for (Path file : files) {
            String fileName = file.getFileName().toString();
            if (fileName.startsWith(".")) continue; // ConfigMap mounts add ..data links and the like
            int dot = fileName.lastIndexOf('.');
            String name = "suite/" + (dot < 0 ? fileName : fileName.substring(0, dot));
            if (fileName.endsWith(".txt")) {
                String text = Files.readString(file, StandardCharsets.UTF_8);
                if (text.isBlank()) throw new IllegalArgumentException(file + ": empty text suite");
                tasks.add(new Task.Text(name, List.of(text)));
            } else if (fileName.endsWith(".jsonl")) {
                tasks.add(jsonl(file, name));
            }
        }
        return tasks;
    }

    private static Task jsonl(Path file, String name) throws IOException {
        List<String> documents = new ArrayList<>();
        List<Task.Item> items = new ArrayList<>();
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).isBlank()) continue;
            String where = file + ":" + (i + 1) + ": ";
            JsonNode node;
            try {
                node = JSON.readTree(lines.get(i));
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IllegalArgumentException(where + "not JSON: " + e.getOriginalMessage());
            }
            if (node.has("choices")) {
                items.add(item(node, where));
            } else if (node.path("text").isTextual()) {
                documents.add(node.get("text").asText());
            } else {
                throw new IllegalArgumentException(
                        where + "expected {\"text\": ...} or {\"context\", \"choices\", \"answer\"}");
            }
        }
        if (!documents.isEmpty() && !items.isEmpty())
            throw new IllegalArgumentException(file + ": mixes text documents and multiple-choice items");
        if (documents.isEmpty() && items.isEmpty()) throw new IllegalArgumentException(file + ": no items");
        return items.isEmpty() ? new Task.Text(name, documents) : new Task.Choices(name, items);
    }

    private static Task.Item item(JsonNode node, String where) {
        if (!node.path("context").isTextual())
            throw new IllegalArgumentException(where + "\"context\" must be a string");
        if (!node.path("answer").canConvertToInt() || !node.path("answer").isIntegralNumber())
            throw new IllegalArgumentException(where + "\"answer\" must be an integer");
        List<String> choices = new ArrayList<>();
        if (!node.get("choices").isArray())
            throw new IllegalArgumentException(where + "\"choices\" must be an array of strings");
        for (JsonNode choice : node.get("choices")) {
            if (!choice.isTextual() || choice.asText().isEmpty())
                throw new IllegalArgumentException(where + "every choice must be a non-empty string");
            choices.add(choice.asText());
        }
        try {
            return new Task.Item(
                    node.get("context").asText(), choices, node.get("answer").asInt());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + e.getMessage());
        }
    }
}
