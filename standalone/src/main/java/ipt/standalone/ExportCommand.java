package ipt.standalone;

import ipt.checkpoints.Checkpoint;
import ipt.model.LanguageModel;
import ipt.runtime.DirectoryTree;
import ipt.runtime.Settings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ipt export}: a checkpoint as a plain Hugging Face model directory, without ipt's own files. */
@Command(
        name = "export",
        sortOptions = false,
        description = {
            "Writes a lineage's champion (--lineage), one of its versions (--lineage --version) or a checkpoint"
                    + " directory as a plain Hugging Face model directory (config.json, model.safetensors or shards"
                    + " with their index, tokenizer.json, generation_config.json) that transformers, vLLM or TGI load.",
            "The directory appears whole or not at all: it is written beside --to and renamed into place."
        })
final class ExportCommand implements Callable<Integer> {
    @CommandLine.Mixin
    CheckpointChoice choice;

    @Option(
            names = "--to",
            required = true,
            paramLabel = "DIR",
            description = "the directory to create; it must not exist, or be empty")
    Path to;

    @Option(
            names = "--shard-mb",
            paramLabel = "MB",
            defaultValue = "2048",
            description = "largest weights file; past it, shards and model.safetensors.index.json (default: "
                    + "${DEFAULT-VALUE})")
    long shardMb;

    @Option(
            names = {"-h", "--help"},
            usageHelp = true,
            description = "Show this help message and exit.")
    boolean help;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    private final Map<String, String> env;

    ExportCommand() {
        this(Settings.environment());
    }

    ExportCommand(Map<String, String> env) {
        this.env = env;
    }

    @Override
    public Integer call() throws IOException {
        if (shardMb <= 0) throw new IllegalArgumentException("--shard-mb " + shardMb + " must be > 0");
        Path target = to.toAbsolutePath().normalize();
        if (Files.exists(target) && !isEmptyDirectory(target))
            throw new IllegalArgumentException(target + " exists and is not an empty directory");
        Checkpoint checkpoint = choice.open(env);
        Checkpoint.Manifest m = checkpoint.manifest();
        Files.createDirectories(target.getParent());
        Path staging = Files.createTempDirectory(target.getParent(), "." + target.getFileName() + ".export-");
        try {
            try (LanguageModel model = checkpoint.model()) {
                model.writeHuggingFace(staging, shardMb << 20);
            }
            if (Files.exists(target)) Files.delete(target); // empty, checked above
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            if (Files.exists(staging)) DirectoryTree.delete(staging);
        }
        try (Stream<Path> files = Files.list(target)) {
            spec.commandLine()
                    .getOut()
                    .printf(
                            "%s v%d%s (%s, step %d) -> %s: %s%n",
                            m.lineage(),
                            m.version(),
                            choice.champion() ? " (champion)" : "",
                            m.architecture(),
                            m.step(),
                            target,
                            files.map(f -> f.getFileName().toString()).sorted().toList());
        }
        return 0;
    }

    private static boolean isEmptyDirectory(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) return false;
        try (Stream<Path> entries = Files.list(dir)) {
            return entries.findAny().isEmpty();
        }
    }
}
