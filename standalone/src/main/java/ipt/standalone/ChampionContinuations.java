package ipt.standalone;

import ipt.checkpoints.Checkpoint;
import ipt.checkpoints.CheckpointStore;
import ipt.evaluator.PublishedCheckpoints;
import ipt.model.Generation;
import ipt.model.LanguageModel;
import ipt.model.Sampling;
import ipt.runtime.TopicReader;
import ipt.schemas.Document;
import ipt.schemas.Topics;
import java.io.IOException;
import java.io.PrintStream;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The demo's last table: the same prompts continued by each lineage's champion, one prompt per domain (the start of
 * the domain's first held-out document by id, text no lineage trained on), drawn with one seed at a low
 * temperature, so that a person reads what forgetting looks like beside the losses that measure it.
 *
 * @param prompts domain -> prompt
 * @param written domain -> "lineage vN" of a champion -> its continuation
 * @param missing lineage -> why it has no champion to ask
 */
record ChampionContinuations(
        Map<String, String> prompts, Map<String, Map<String, String>> written, Map<String, String> missing) {
    static final int PROMPT_CHARACTERS = 48;
    static final Sampling SAMPLING = new Sampling(0.3, 0, 1, 64, 1);

    /** Per domain, in name order, the first {@link #PROMPT_CHARACTERS} of its held-out document with the lowest id. */
    static Map<String, String> prompts(List<Document> heldOut) {
        Map<String, String> prompts = new TreeMap<>();
        heldOut.stream()
                .sorted(Comparator.comparing(Document::getId))
                .forEach(d -> prompts.putIfAbsent(d.getDomain(), start(d.getText())));
        return prompts;
    }

    /** The held-out documents on Kafka, continued by each lineage's champion. */
    static ChampionContinuations of(Map<String, Object> kafka, CheckpointStore store, List<String> lineages)
            throws IOException {
        Map<String, String> prompts = prompts(TopicReader.readAll(kafka, Topics.HELDOUT.name()).stream()
                .map(Topics.HELDOUT::value)
                .toList());
        Map<String, Map<String, String>> written = new TreeMap<>();
        Map<String, String> missing = new TreeMap<>();
        for (String lineage : lineages) {
            Checkpoint champion;
            try {
                champion = PublishedCheckpoints.champion(kafka, store, lineage);
            } catch (IllegalArgumentException e) {
                missing.put(lineage, e.getMessage());
                continue;
            }
            String name = lineage + " v" + champion.manifest().version();
            try (LanguageModel model = champion.model()) {
                for (Map.Entry<String, String> prompt : prompts.entrySet()) {
                    written.computeIfAbsent(prompt.getKey(), k -> new TreeMap<>())
                            .put(
                                    name,
                                    Generation.generate(model, prompt.getValue(), SAMPLING)
                                            .text());
                }
            }
        }
        return new ChampionContinuations(prompts, written, missing);
    }

    void print(PrintStream out) {
        out.printf(
                Locale.ROOT,
                "%neach champion continues the same held-out prompts (ipt generate: temperature %s, seed %d, %d tokens;"
                        + " ⏎ is a line break)%n",
                SAMPLING.temperature(),
                SAMPLING.seed(),
                SAMPLING.maxTokens());
        missing.forEach((lineage, why) -> out.printf("%s: %s%n", lineage, why));
        for (Map.Entry<String, String> prompt : prompts.entrySet()) {
            out.printf("%-6s %-14s %s%n", prompt.getKey(), "prompt", oneLine(prompt.getValue()));
            written.getOrDefault(prompt.getKey(), Map.of())
                    .forEach((name, text) -> out.printf("%-6s %-14s …%s%n", "", name, oneLine(text)));
        }
    }

    /** At most {@link #PROMPT_CHARACTERS} characters, never half a surrogate pair. */
    static String start(String text) {
        int end = text.offsetByCodePoints(0, Math.min(text.codePointCount(0, text.length()), PROMPT_CHARACTERS));
        return text.substring(0, end);
    }

    /** Line breaks shown as ⏎ and tabs as spaces, so that each continuation stays on its line. */
    static String oneLine(String text) {
        return text.replace("\r\n", "⏎").replace('\n', '⏎').replace('\r', '⏎').replace('\t', ' ');
    }
}
