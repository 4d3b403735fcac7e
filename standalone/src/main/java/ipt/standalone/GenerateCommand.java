package ipt.standalone;

import ipt.checkpoints.Checkpoint;
import ipt.checkpoints.CheckpointException;
import ipt.evaluator.EvaluatorConfig;
import ipt.evaluator.PublishedCheckpoints;
import ipt.model.Generation;
import ipt.model.LanguageModel;
import ipt.model.Sampling;
import ipt.runtime.KafkaSettings;
import ipt.runtime.Settings;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ipt generate}: continuations of prompts from a lineage's champion, one of its versions, or a directory. */
@Command(
        name = "generate",
        sortOptions = false,
        description = {
            "Continues prompts with a lineage's champion (--lineage), one of its versions (--lineage --version) or a"
                    + " checkpoint directory; prints each prompt and its continuation, and tokens/s on stderr.",
            "A lineage's checkpoints are found as ipt models and ipt promote find them: ipt.promotions and"
                    + " ipt.checkpoints on KAFKA_BOOTSTRAP_SERVERS, opened from the checkpoint store"
                    + " (IPT_CHECKPOINT_STORE or IPT_DATA_DIR/checkpoints) and verified."
        })
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--lineage", paramLabel = "LINEAGE", description = "the lineage whose champion continues")
    String lineage;

    /** No standard --version here: the command's own --version names the checkpoint. */
    @Option(names = "--version", paramLabel = "V", description = "a version of the lineage instead of its champion")
    Long version;

    @Parameters(
            arity = "0..1",
            paramLabel = "CHECKPOINT_DIR",
            description = "a checkpoint directory instead of a lineage (verified as the evaluator verifies it)")
    Path directory;

    @Option(
            names = "--prompt",
            paramLabel = "TEXT",
            description = "a prompt, repeatable (default: standard input, one prompt, its final line break dropped)")
    List<String> prompts;

    @Option(
            names = "--temperature",
            paramLabel = "T",
            defaultValue = "0.8",
            description = "divides the logits; 0: the most likely token every time (default: ${DEFAULT-VALUE})")
    double temperature;

    @Option(
            names = "--top-k",
            paramLabel = "K",
            defaultValue = "0",
            description = "draw only among the k most likely tokens; 0: no limit (default: ${DEFAULT-VALUE})")
    int topK;

    @Option(
            names = "--top-p",
            paramLabel = "P",
            defaultValue = "0.95",
            description =
                    "draw only among the most likely tokens whose probability reaches p (default: ${DEFAULT-VALUE})")
    double topP;

    @Option(
            names = "--max-tokens",
            paramLabel = "N",
            defaultValue = "200",
            description = "new tokens at most; the end-of-text token ends sooner (default: ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(
            names = "--seed",
            paramLabel = "SEED",
            description = "seed of the draws: the same seed gives the same text (default: a random one, printed)")
    Long seed;

    @Option(
            names = {"-h", "--help"},
            usageHelp = true,
            description = "Show this help message and exit.")
    boolean help;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    private final Map<String, String> env;
    private final InputStream in;

    GenerateCommand() {
        this(Settings.environment(), System.in);
    }

    GenerateCommand(Map<String, String> env, InputStream in) {
        this.env = env;
        this.in = in;
    }

    @Override
    public Integer call() throws IOException {
        long drawSeed = seed != null ? seed : new SplittableRandom().nextLong();
        Sampling sampling = new Sampling(temperature, topK, topP, maxTokens, drawSeed);
        if ((lineage == null) == (directory == null))
            throw new IllegalArgumentException("name a lineage (--lineage) or a checkpoint directory, not both");
        if (version != null && lineage == null)
            throw new IllegalArgumentException("--version needs the lineage (--lineage)");
        List<String> texts = prompts != null ? prompts : List.of(standardInput());
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Checkpoint checkpoint = checkpoint();
        Checkpoint.Manifest m = checkpoint.manifest();
        err.printf(
                Locale.ROOT,
                "%s v%d%s: %s %s, step %d; temperature %s, top-k %d, top-p %s, max tokens %d, seed %d%n",
                m.lineage(),
                m.version(),
                lineage != null && version == null ? " (champion)" : "",
                m.architecture(),
                m.model(),
                m.step(),
                temperature,
                topK,
                topP,
                maxTokens,
                drawSeed);
        try (LanguageModel model = checkpoint.model()) {
            for (int i = 0; i < texts.size(); i++) {
                Generation.Continuation c = Generation.generate(model, texts.get(i), sampling);
                if (i > 0) out.println();
                out.println(c.prompt() + c.text());
                out.flush();
                err.printf(
                        Locale.ROOT,
                        "%d tokens in %.2f s: %.0f tokens/s (%s)%n",
                        c.tokens().length,
                        c.nanos() / 1e9,
                        c.tokensPerSecond(),
                        c.endOfText() ? "end of text" : "max tokens");
            }
        }
        return 0;
    }

    private Checkpoint checkpoint() throws IOException {
        if (directory != null) {
            try {
                return Checkpoint.open(directory);
            } catch (CheckpointException e) {
                throw new IllegalArgumentException(directory + " is not a checkpoint to use: " + e.getMessage(), e);
            }
        }
        Map<String, Object> kafka = KafkaSettings.fromEnv(env);
        var store = EvaluatorConfig.fromEnv(env).store(env);
        return version == null
                ? PublishedCheckpoints.champion(kafka, store, lineage)
                : PublishedCheckpoints.version(kafka, store, lineage, version);
    }

    private String standardInput() throws IOException {
        String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        return text.endsWith("\r\n")
                ? text.substring(0, text.length() - 2)
                : text.endsWith("\n") ? text.substring(0, text.length() - 1) : text;
    }
}
