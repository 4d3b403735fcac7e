package ipt.standalone;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ipt.checkpoints.Checkpoint;
import ipt.checkpoints.CheckpointStore;
import ipt.model.ByteTokenizer;
import ipt.model.Generation;
import ipt.model.GptConfig;
import ipt.model.LanguageModel;
import ipt.model.Sampling;
import ipt.model.TrainConfig;
import ipt.runtime.KafkaSettings;
import ipt.schemas.CheckpointPublished;
import ipt.schemas.Document;
import ipt.schemas.Promotion;
import ipt.schemas.Topics;
import ipt.testsupport.EmbeddedKafka;
import ipt.trainer.Lineage;
import ipt.trainer.TrainerConfig;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ipt generate} against checkpoints the trainer's Lineage wrote and published on a real broker: the champion
 * by default, a version, a directory; the same seed, the same text; every wrong argument refused with its reason.
 * Then the demo's last table from the same broker.
 */
class GenerateCommandIT {
    private static final GptConfig TINY = new GptConfig(ByteTokenizer.VOCAB_SIZE, 32, 32, 1, 2);
    private static final String TEXT = "Madam President, on behalf of the committee I would like to thank the "
            + "rapporteur for her work on this report. The proposal before us today is a balanced compromise. ";

    @TempDir
    static Path dir;

    private static EmbeddedKafka broker;
    private static Map<String, String> env;
    private static List<Path> versions = new ArrayList<>();

    /** Lineage main: v1 (the champion) and v2; lineage fresh: v1, never judged. */
    @BeforeAll
    static void publishCheckpoints() throws Exception {
        broker = EmbeddedKafka.start();
        Map<String, Object> kafka = KafkaSettings.of(broker.bootstrapServers());
        try (Admin admin = Admin.create(kafka)) {
            Topics.ensure(admin, Topics.specs(1), (short) 1);
        }
        env = Map.of("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrapServers(), "IPT_DATA_DIR", dir.toString());
        try (KafkaProducer<String, byte[]> producer =
                new KafkaProducer<>(kafka, new StringSerializer(), new ByteArraySerializer())) {
            for (String name : List.of("main", "fresh")) {
                TrainerConfig config = TrainerConfig.of(name, dir, 0.25)
                        .withModel(TINY, TrainConfig.defaults())
                        .withRounds(4, 4, Duration.ofSeconds(1));
                try (Lineage lineage = Lineage.recover(
                        config, CheckpointStore.of(config.checkpointStore(), dir.resolve("cache"), Map.of()), null)) {
                    for (int round = 0; round < (name.equals("main") ? 2 : 1); round++) {
                        for (int i = 0; lineage.fullSequences() < lineage.sequencesPerRound(); i++)
                            lineage.add(name + round + "-" + i, "en", i + ": " + TEXT);
                        Lineage.Round r =
                                lineage.round(lineage.sequencesPerRound(), Lineage.Reports.NONE, Map.of(), null);
                        lineage.committed(r);
                        producer.send(Topics.CHECKPOINTS.record(name, published(name, r)));
                        if (name.equals("main")) versions.add(Path.of(r.location()));
                    }
                }
            }
            Checkpoint champion = Checkpoint.open(versions.get(0));
            producer.send(Topics.PROMOTIONS.record(
                    "main",
                    Promotion.newBuilder()
                            .setLineage("main")
                            .setVersion(1)
                            .setLocation(versions.get(0).toString())
                            .setSha256(champion.sha256())
                            .setDecidingRule("no-regression")
                            .setPromotedAt(Instant.now())
                            .build()));
            for (String[] doc : new String[][] {
                {"en-2", "en", "Second English document, not the prompt."},
                {"en-1", "en", "Resumption of the session. I declare resumed the session of the European Parliament."},
                {"de-1", "de", "Wiederaufnahme der Sitzungsperiode"}
            }) {
                producer.send(Topics.HELDOUT.record(
                        doc[0],
                        Document.newBuilder()
                                .setId(doc[0])
                                .setDomain(doc[1])
                                .setText(doc[2])
                                .setSource("it")
                                .setIngestTime(Instant.now())
                                .setMetadata(Map.of())
                                .build()));
            }
            producer.flush();
        }
    }

    private static CheckpointPublished published(String lineage, Lineage.Round r) {
        return CheckpointPublished.newBuilder()
                .setLineage(lineage)
                .setVersion(r.version())
                .setLocation(r.location())
                .setSha256(r.checkpoint().sha256())
                .setStep(r.checkpoint().manifest().step())
                .setTokensSeen(0)
                .setDocuments(0)
                .setOffsets(List.of())
                .setTrainLoss(5.0)
                .setCreatedAt(Instant.now())
                .build();
    }

    @AfterAll
    static void stopBroker() throws Exception {
        broker.close();
    }

    private record Run(int exitCode, String out, String err) {}

    private static Run generate(String stdin, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Ipt.cli(new GenerateCommand(env, new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8))))
                .setOut(new PrintWriter(out))
                .setErr(new PrintWriter(err))
                .execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    /** Sampled, not greedy: two rounds of four steps barely move the most likely byte. */
    private static final Sampling SAMPLED = new Sampling(1, 0, 1, 48, 3);

    private static final String[] SAMPLED_ARGS = {
        "--temperature", "1", "--top-p", "1", "--seed", "3", "--max-tokens", "48"
    };

    private static String sampled(Path checkpoint, String prompt) throws Exception {
        try (LanguageModel model = Checkpoint.open(checkpoint).model()) {
            return prompt + Generation.generate(model, prompt, SAMPLED).text() + "\n";
        }
    }

    @Test
    void theChampionAVersionOrADirectoryContinuesThePrompt() throws Exception {
        String v1 = sampled(versions.get(0), "Madam");
        String v2 = sampled(versions.get(1), "Madam");
        assertNotEquals(v1, v2, "the two versions write differently, so the test tells them apart");
        String[] prompted = concat(new String[] {"--prompt", "Madam"}, SAMPLED_ARGS);

        Run champion = generate("", concat(new String[] {"--lineage", "main"}, prompted));
        assertEquals(0, champion.exitCode(), champion.err());
        assertEquals(v1, champion.out());
        assertTrue(
                champion.err().startsWith("main v1 (champion): ipt-gpt GptConfig[vocabSize=257, contextLength=32"),
                champion.err());
        String speed = "[0-9]+ tokens in [0-9.]+ s: [0-9]+ tokens/s \\((max tokens|end of text)\\)";
        assertTrue(champion.err().matches("(?s).*\\n" + speed + "\\n"), champion.err());

        Run version = generate("", concat(new String[] {"--lineage", "main", "--version", "2"}, prompted));
        assertEquals(0, version.exitCode(), version.err());
        assertEquals(v2, version.out());
        assertTrue(version.err().startsWith("main v2: "), version.err());

        Run directory = generate("", concat(new String[] {versions.get(1).toString()}, prompted));
        assertEquals(v2, directory.out());

        Run stdin = generate("Madam\n", concat(new String[] {"--lineage", "main"}, SAMPLED_ARGS));
        assertEquals(v1, stdin.out(), "standard input, its line break dropped");
    }

    @Test
    void exportWritesTheCheckpointAsAPlainHuggingFaceDirectory(@TempDir Path out) throws Exception {
        Path champion = out.resolve("served/main");
        StringWriter printed = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Ipt.cli(new ExportCommand(env))
                .setOut(new PrintWriter(printed))
                .setErr(new PrintWriter(err))
                .execute("--lineage", "main", "--to", champion.toString());
        assertEquals(0, code, err.toString());
        assertEquals(
                List.of("config.json", "generation_config.json", "model.safetensors", "tokenizer.json"),
                Files.list(champion)
                        .map(f -> f.getFileName().toString())
                        .sorted()
                        .toList(),
                "the Hugging Face files only: no manifest, optimizer state or packer tail");
        assertArrayEquals(
                Files.readAllBytes(versions.get(0).resolve("model.safetensors")),
                Files.readAllBytes(champion.resolve("model.safetensors")),
                "the champion (v1)'s weights, byte for byte");
        assertTrue(printed.toString().startsWith("main v1 (champion) (ipt-gpt, step "), printed.toString());
        try (LanguageModel exported = LanguageModel.fromHuggingFace(champion)) {
            assertEquals(LanguageModel.GPT2, exported.architecture(), "transformers reads it as GPT-2");
        }

        StringWriter refused = new StringWriter();
        code = Ipt.cli(new ExportCommand(env))
                .setOut(new PrintWriter(new StringWriter()))
                .setErr(new PrintWriter(refused))
                .execute("--lineage", "main", "--version", "2", "--to", champion.toString());
        assertEquals(2, code);
        assertEquals(
                "ipt: " + champion + " exists and is not an empty directory",
                refused.toString().strip());
    }

    @Test
    void theSameSeedGivesTheSameTextForEveryPrompt() {
        String[] args = {
            "--lineage",
            "main",
            "--prompt",
            "Madam",
            "--prompt",
            "The proposal",
            "--temperature",
            "1",
            "--max-tokens",
            "30"
        };
        Run a = generate("", concat(args, new String[] {"--seed", "7"}));
        Run again = generate("", concat(args, new String[] {"--seed", "7"}));
        Run other = generate("", concat(args, new String[] {"--seed", "8"}));
        assertEquals(0, a.exitCode(), a.err());
        assertEquals(a.out(), again.out());
        assertNotEquals(a.out(), other.out());
        String[] blocks = a.out().split("\n\n");
        assertEquals(2, blocks.length, a.out());
        assertTrue(blocks[0].startsWith("Madam") && blocks[1].startsWith("The proposal"), a.out());
        assertTrue(a.err().contains("seed 7"), a.err());
    }

    @Test
    void wrongArgumentsAreRefusedWithTheirReasons() throws Exception {
        assertRefused("ipt: unknown lineage nope (lineages: [fresh, main])", "--lineage", "nope", "--prompt", "x");
        assertRefused(
                "ipt: lineage main published no checkpoint v9; it published 2 checkpoints, v1 to v2",
                "--lineage",
                "main",
                "--version",
                "9",
                "--prompt",
                "x");
        assertRefused(
                "ipt: lineage fresh has no champion yet; it published v1 (choose one with --version)",
                "--lineage",
                "fresh",
                "--prompt",
                "x");
        assertRefused(
                "ipt: temperature -1.0 must be a number >= 0 (0: greedy); top-p 2.0 must be in (0, 1]",
                "--lineage",
                "main",
                "--temperature",
                "-1",
                "--top-p",
                "2",
                "--prompt",
                "x");
        assertRefused("ipt: max tokens 0 must be > 0", "--lineage", "main", "--max-tokens", "0", "--prompt", "x");
        assertRefused(
                "ipt: name a lineage (--lineage) or a checkpoint directory, not both",
                "--lineage",
                "main",
                versions.get(0).toString(),
                "--prompt",
                "x");
        assertRefused("ipt: name a lineage (--lineage) or a checkpoint directory, not both", "--prompt", "x");
        assertRefused(
                "ipt: --version needs the lineage (--lineage)",
                "--version",
                "1",
                versions.get(0).toString());
        Path notACheckpoint = Files.createDirectories(dir.resolve("empty"));
        assertRefused(
                "ipt: " + notACheckpoint + " is not a checkpoint to use: manifest.json: missing",
                notACheckpoint.toString(),
                "--prompt",
                "x");
    }

    private static void assertRefused(String reason, String... args) {
        Run run = generate("", args);
        assertEquals(2, run.exitCode(), run.err());
        assertEquals(reason, run.err().strip());
        assertEquals("", run.out());
    }

    @Test
    void theDemoEndsWithEachChampionContinuingOnePromptPerDomain() throws Exception {
        Map<String, Object> kafka = KafkaSettings.of(broker.bootstrapServers());
        ChampionContinuations continuations = ChampionContinuations.of(
                kafka,
                CheckpointStore.of(dir.resolve("checkpoints").toString(), dir.resolve("cache"), Map.of()),
                List.of("main", "fresh"));
        assertEquals(
                Map.of(
                        "de",
                        "Wiederaufnahme der Sitzungsperiode",
                        "en",
                        "Resumption of the session. I declare resumed the"),
                continuations.prompts());
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        continuations.print(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        List<String> lines = bytes.toString(StandardCharsets.UTF_8).lines().toList();
        assertEquals(
                "fresh: lineage fresh has no champion yet; it published v1 (choose one with --version)", lines.get(2));
        assertEquals("de     prompt         Wiederaufnahme der Sitzungsperiode", lines.get(3));
        String de;
        try (LanguageModel model = Checkpoint.open(versions.get(0)).model()) {
            de = Generation.generate(model, "Wiederaufnahme der Sitzungsperiode", ChampionContinuations.SAMPLING)
                    .text();
        }
        assertEquals("       main v1        …" + ChampionContinuations.oneLine(de), lines.get(4));
        assertEquals("en     prompt         Resumption of the session. I declare resumed the", lines.get(5));
        assertTrue(lines.get(6).startsWith("       main v1        …"), lines.get(6));
        assertEquals(7, lines.size(), String.join("\n", lines));
    }

    private static String[] concat(String[] a, String[] b) {
        String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }
}
