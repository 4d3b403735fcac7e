package ipt.standalone;

import ipt.checkpoints.Checkpoint;
import ipt.model.ComputeDevice;
import ipt.model.Generation;
import ipt.model.LanguageModel;
import ipt.model.Sampling;
import ipt.runtime.Settings;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

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
    @CommandLine.Mixin
    CheckpointChoice choice;

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
        ComputeDevice.use(Settings.DEVICE.from(env));
        Checkpoint checkpoint = choice.open(env);
        List<String> texts = prompts != null ? prompts : List.of(standardInput());
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Checkpoint.Manifest m = checkpoint.manifest();
        err.printf(
                Locale.ROOT,
                "%s v%d%s: %s %s, step %d; temperature %s, top-k %d, top-p %s, max tokens %d, seed %d%n",
                m.lineage(),
                m.version(),
                choice.champion() ? " (champion)" : "",
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

    private String standardInput() throws IOException {
        String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        return text.endsWith("\r\n")
                ? text.substring(0, text.length() - 2)
                : text.endsWith("\n") ? text.substring(0, text.length() - 1) : text;
    }
}
