package ipt.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import ipt.checkpoints.Checkpoint;
import ipt.model.Generation;
import ipt.model.LanguageModel;
import ipt.model.RandomHuggingFace;
import ipt.model.Sampling;
import ipt.model.TrainConfig;
import ipt.model.Training;
import ipt.runtime.DirectoryTree;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * ipt at the sizes of real models: a GPT-2-small-shaped model (124M) and a small Llama-shaped one (55M, grouped-query
 * attention), each a Hugging Face directory with random weights that ipt's writer wrote and that is read back as
 * {@code IPT_START_FROM} reads it (LanguageModel.fromHuggingFace at the lineage's context, Training.start). Per model,
 * in a JVM of its own so that its peak resident memory is its own: training tokens/s at the trainer's defaults
 * (IPT_BATCH_SIZE 16, IPT_CONTEXT_LENGTH 128, one micro-batch; the batch is an argument) and model FLOP/s against
 * the dense fp32 matmul rate measured just before each repetition (the reference), per second of wall-clock time and
 * per second of the process's CPU time; peak RSS (VmHWM); checkpoint write and load seconds per GB
 * (Checkpoint.write: the Hugging Face directory and the AdamW state; Checkpoint.open and training(): verify every
 * sha256, read model and optimizer); {@code ipt generate}'s tokens/s (Generation on the model read back from the
 * checkpoint, as the CLI reads it).
 *
 * <p>Usage: {@code bench/run HuggingFaceSizes [repetitions, default 3] [timed steps a repetition, default 1]
 * [generated tokens a repetition, default 16] [sequences a step, default 16] [models, default
 * gpt2-124m,llama-55m]}
 */
public final class HuggingFaceSizes {
    static final int DEFAULT_BATCH = 16; // IPT_BATCH_SIZE's default
    static final int CONTEXT = 128; // IPT_CONTEXT_LENGTH's default
    private static final int MATMUL_N = 1024;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A Hugging Face configuration to measure: its config.json and the name of its end-of-text token. */
    record ModelShape(String name, ObjectNode config, String eosToken) {

        /** GPT-2 (transformers' GPT2Config defaults) at the given size; eos is the last id, as in GPT-2. */
        static ModelShape gpt2(String name, int layers, int embd, int heads, int vocab, int positions) {
            ObjectNode c = JSON.createObjectNode();
            c.putArray("architectures").add("GPT2LMHeadModel");
            c.put("model_type", "gpt2")
                    .put("n_layer", layers)
                    .put("n_embd", embd)
                    .put("n_head", heads)
                    .put("vocab_size", vocab)
                    .put("n_positions", positions)
                    .put("activation_function", "gelu_new")
                    .put("layer_norm_epsilon", 1e-5)
                    .put("tie_word_embeddings", true)
                    .put("bos_token_id", vocab - 1)
                    .put("eos_token_id", vocab - 1);
            return new ModelShape(name, c, "<|endoftext|>");
        }

        /** Llama (untied head, RoPE base 10000, RMSNorm 1e-5) with kvHeads key/value heads. */
        static ModelShape llama(
                String name, int layers, int hidden, int heads, int kvHeads, int intermediate, int vocab) {
            ObjectNode c = JSON.createObjectNode();
            c.putArray("architectures").add("LlamaForCausalLM");
            c.put("model_type", "llama")
                    .put("num_hidden_layers", layers)
                    .put("hidden_size", hidden)
                    .put("num_attention_heads", heads)
                    .put("num_key_value_heads", kvHeads)
                    .put("intermediate_size", intermediate)
                    .put("vocab_size", vocab)
                    .put("max_position_embeddings", 2048)
                    .put("rms_norm_eps", 1e-5)
                    .put("rope_theta", 10000.0)
                    .put("hidden_act", "silu")
                    .put("tie_word_embeddings", false)
                    .put("eos_token_id", vocab - 1);
            return new ModelShape(name, c, "</s>");
        }

        /** GPT-2 small as released: 12 layers, 768 wide, 12 heads, 50,257 tokens, 1,024 positions. */
        static ModelShape gpt2Small() {
            return gpt2("gpt2-124m", 12, 768, 12, 50257, 1024);
        }

        /**
         * A small Llama: 8 layers, 512 wide, 8 query heads over 2 key/value heads (head 64, four queries a kv head),
         * SwiGLU 1408 (8/3 of the width rounded up to a multiple of 128, as Llama sizes it), 32,000 tokens (Llama 2's
         * vocabulary): 55M parameters, 33M of them the untied embedding and head, as in the small Llamas people
         * continue (TinyLlama's proportions scaled down).
         */
        static ModelShape llamaSmall() {
            return llama("llama-55m", 8, 512, 8, 2, 1408, 32000);
        }

        static ModelShape named(String name) {
            return Stream.of(gpt2Small(), llamaSmall())
                    .filter(s -> s.name().equals(name))
                    .findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("no model " + name));
        }

        /**
         * Parameters that enter a matrix product per token: all but the embeddings that are only looked up (GPT-2's
         * positions; an untied model's input embedding). A tied embedding counts once, as the head.
         */
        long matmulParameters(long parameters) {
            boolean gpt2 = config.path("model_type").asText().equals("gpt2");
            long lookup = gpt2
                    ? (long) config.path("n_positions").asInt()
                            * config.path("n_embd").asInt()
                    : config.path("tie_word_embeddings").asBoolean()
                            ? 0
                            : (long) config.path("vocab_size").asInt()
                                    * config.path("hidden_size").asInt();
            return parameters - lookup;
        }
    }

    /** How much to measure: repetitions, timed training steps in each, tokens generated in each, sequences a step. */
    record Plan(int repetitions, int steps, int tokens, int batch) {}

    /** One model's figures, a value per repetition where there are several. */
    record Figures(
            String model,
            long parameters,
            double flopsPerToken,
            double importSeconds,
            List<Double> matmulFlops,
            List<Double> trainTokensPerSecond,
            List<Double> matmulFlopsPerCpuSecond,
            List<Double> trainTokensPerCpuSecond,
            long trainingPeakRssKb,
            double checkpointGb,
            List<Double> writeSeconds,
            List<Double> loadSeconds,
            List<Double> generateTokensPerSecond,
            List<Double> generateTokensPerCpuSecond,
            long peakRssKb) {

        /** Model FLOP/s over the matmul rate measured just before, per repetition, both in wall-clock time. */
        List<Double> mfu() {
            return ratios(trainTokensPerSecond, matmulFlops);
        }

        /**
         * The same ratio with both rates per second of this process's CPU time: on a shared machine the wall-clock
         * ratio compares a 30 ms product, which often runs uncontended, with a step of minutes that shares the core.
         */
        List<Double> mfuCpu() {
            return ratios(trainTokensPerCpuSecond, matmulFlopsPerCpuSecond);
        }

        private List<Double> ratios(List<Double> tokens, List<Double> matmul) {
            List<Double> ratios = new ArrayList<>();
            for (int r = 0; r < matmul.size(); r++) ratios.add(tokens.get(r) * flopsPerToken / matmul.get(r));
            return ratios;
        }
    }

    private HuggingFaceSizes() {}

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--one")) {
            Plan plan = new Plan(
                    Integer.parseInt(args[2]),
                    Integer.parseInt(args[3]),
                    Integer.parseInt(args[4]),
                    Integer.parseInt(args[5]));
            Path work = Files.createTempDirectory("ipt-hf-sizes-");
            try {
                print(measure(ModelShape.named(args[1]), plan, work));
            } finally {
                DirectoryTree.delete(work);
            }
            return;
        }
        Plan plan = new Plan(
                args.length > 0 ? Integer.parseInt(args[0]) : 3,
                args.length > 1 ? Integer.parseInt(args[1]) : 1,
                args.length > 2 ? Integer.parseInt(args[2]) : 16,
                args.length > 3 ? Integer.parseInt(args[3]) : DEFAULT_BATCH);
        List<String> models = List.of((args.length > 4 ? args[4] : "gpt2-124m,llama-55m").split(","));
        System.out.printf(
                "DJL %s, PyTorch engine threads %s; load average at start %s; %s%n",
                ai.djl.engine.Engine.getInstance().getVersion(),
                System.getProperty("ai.djl.pytorch.num_threads", "default"),
                loadAverage(),
                plan);
        long start = System.nanoTime();
        List<Map<String, String>> results = new ArrayList<>();
        for (String model : models) results.add(inOwnJvm(model, plan));
        System.out.printf("%nload average at end %s; %.1f minutes in all%n", loadAverage(), seconds(start) / 60);
        table(results);
    }

    /** Runs one model's measurement in a fresh JVM with this one's options; its RESULT lines, by key. */
    private static Map<String, String> inOwnJvm(String model, Plan plan) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), HuggingFaceSizes.class.getName()));
        command.addAll(List.of(
                "--one",
                model,
                String.valueOf(plan.repetitions()),
                String.valueOf(plan.steps()),
                String.valueOf(plan.tokens()),
                String.valueOf(plan.batch())));
        Process process = new ProcessBuilder(command)
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        Map<String, String> result = new LinkedHashMap<>();
        try (BufferedReader out =
                new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = out.readLine()) != null; ) {
                System.out.println(line);
                if (line.startsWith("RESULT ")) {
                    String[] kv = line.substring(7).split("=", 2);
                    result.put(kv[0], kv[1]);
                }
            }
        }
        if (process.waitFor() != 0) throw new IllegalStateException(model + "'s JVM exited " + process.exitValue());
        return result;
    }

    /** Every figure for one model, in this JVM (whose peak RSS is then the model's). */
    static Figures measure(ModelShape shape, Plan plan, Path work) throws Exception {
        System.out.printf("%n== %s: load average %s%n", shape.name(), loadAverage());
        long start = System.nanoTime();
        Path dir = RandomHuggingFace.write(
                work.resolve(shape.name()), shape.config(), shape.eosToken(), 1, Checkpoint.DEFAULT_MAX_SHARD_BYTES);
        System.out.printf("random weights written by ipt's safetensors writer: %.1f s%n", seconds(start));
        start = System.nanoTime();
        // What IPT_START_FROM=<dir> does (Lineage.startingModel): the directory at the lineage's context, fresh AdamW.
        Training training = Training.start(LanguageModel.fromHuggingFace(dir, CONTEXT), TrainConfig.defaults());
        double importSeconds = seconds(start);
        long parameters = training.model().parameterCount();
        double flopsPerToken = 6.0 * shape.matmulParameters(parameters)
                + 12.0
                        * training.model().config().nLayers()
                        * training.model().config().dModel()
                        * CONTEXT;
        System.out.printf(
                "imported in %.1f s: %s, %,d parameters, %.1f MFLOP a token%n",
                importSeconds, training.model().config(), parameters, flopsPerToken / 1e6);

        SplittableRandom random = new SplittableRandom(7);
        int vocab = training.model().config().vocabSize();
        List<Double> matmul = new ArrayList<>();
        List<Double> matmulCpu = new ArrayList<>();
        List<Double> tokensPerSecond = new ArrayList<>();
        List<Double> tokensPerCpuSecond = new ArrayList<>();
        try {
            // warm-up: allocator, kernels, the AdamW moments
            training.trainStep(batch(random, vocab, plan.batch()), 1e-4f);
            for (int r = 0; r < plan.repetitions(); r++) {
                double[] rates = matmulFlops();
                matmul.add(rates[0]);
                matmulCpu.add(rates[1]);
                start = System.nanoTime();
                long cpuStart = cpuNanos();
                for (int s = 0; s < plan.steps(); s++) training.trainStep(batch(random, vocab, plan.batch()), 1e-4f);
                double tokens = (double) plan.steps() * plan.batch() * CONTEXT;
                tokensPerSecond.add(tokens / seconds(start));
                tokensPerCpuSecond.add(tokens / ((cpuNanos() - cpuStart) / 1e9));
                System.out.printf(
                        "  repetition %d: matmul %.1f GFLOP/s (%.1f a CPU second), training %.1f tokens/s (%.1f a CPU"
                                + " second; load average %s)%n",
                        r + 1,
                        rates[0] / 1e9,
                        rates[1] / 1e9,
                        tokensPerSecond.get(r),
                        tokensPerCpuSecond.get(r),
                        loadAverage());
            }
        } catch (RuntimeException | Error e) {
            training.close();
            throw e;
        }
        long trainingPeak = status("VmHWM");

        List<Double> write = new ArrayList<>();
        List<Double> load = new ArrayList<>();
        double gb = 0;
        Path store = work.resolve("checkpoints");
        Path kept = null;
        try (training) {
            for (int r = 0; r < plan.repetitions(); r++) {
                Checkpoint.Manifest manifest = new Checkpoint.Manifest(
                        Checkpoint.FORMAT_VERSION,
                        "bench",
                        r + 1,
                        null,
                        training.model().config(),
                        training.model().architecture(),
                        training.step(),
                        training.step() * plan.batch() * CONTEXT,
                        Map.of(),
                        0,
                        System.currentTimeMillis(),
                        Map.of());
                start = System.nanoTime();
                Checkpoint written = Checkpoint.write(store, "v" + (r + 1), manifest, training, Map.of());
                write.add(seconds(start));
                gb = bytes(written.dir()) / 1e9;
                start = System.nanoTime();
                // The trainer's resume: every file's sha256 verified, then the model and its AdamW state read.
                try (Training resumed = Checkpoint.open(written.dir()).training(TrainConfig.defaults())) {
                    load.add(seconds(start));
                }
                if (kept != null) DirectoryTree.delete(kept);
                kept = written.dir();
                System.out.printf(
                        "  checkpoint %d: %.3f GB, written in %.2f s, loaded in %.2f s%n",
                        r + 1, gb, write.get(r), load.get(r));
            }
        }

        List<Double> generate = new ArrayList<>();
        List<Double> generateCpu = new ArrayList<>();
        // As `ipt generate` reads a checkpoint, at the lineage's context; a prompt that fills the window, so every
        // token is a forward pass over CONTEXT positions; the CLI's default sampling.
        try (LanguageModel model = Checkpoint.open(kept).model()) {
            String prompt = text(random, CONTEXT);
            Generation.generate(model, prompt, new Sampling(0.8, 0, 0.95, 2, 0)); // warm-up
            for (int r = 0; r < plan.repetitions(); r++) {
                long drawn = 0;
                long nanos = 0;
                long cpuStart = cpuNanos();
                // A random model may draw end-of-text early: count what it drew.
                for (int seed = 0; drawn < plan.tokens(); seed++) {
                    Generation.Continuation c = Generation.generate(
                            model, prompt, new Sampling(0.8, 0, 0.95, plan.tokens(), r * 1000L + seed));
                    drawn += c.tokens().length + (c.endOfText() ? 1 : 0);
                    nanos += c.nanos();
                }
                generate.add(drawn / (nanos / 1e9));
                generateCpu.add(drawn / ((cpuNanos() - cpuStart) / 1e9));
                System.out.printf(
                        "  generation %d: %.2f tokens/s (%.2f a CPU second)%n",
                        r + 1, generate.get(r), generateCpu.get(r));
            }
        }
        return new Figures(
                shape.name(),
                parameters,
                flopsPerToken,
                importSeconds,
                matmul,
                tokensPerSecond,
                matmulCpu,
                tokensPerCpuSecond,
                trainingPeak,
                gb,
                write,
                load,
                generate,
                generateCpu,
                status("VmHWM"));
    }

    private static void print(Figures f) {
        System.out.println("RESULT model=" + f.model());
        System.out.println("RESULT parameters=" + String.format("%,d", f.parameters()));
        System.out.println("RESULT MFLOP a token=" + String.format("%.1f", f.flopsPerToken() / 1e6));
        System.out.println("RESULT import s=" + String.format("%.1f", f.importSeconds()));
        System.out.println("RESULT matmul GFLOP/s (reference)=" + figure(f.matmulFlops(), 1e-9, "%.1f"));
        System.out.println("RESULT training tokens/s=" + figure(f.trainTokensPerSecond(), 1, "%.1f"));
        System.out.println("RESULT model GFLOP/s=" + figure(f.trainTokensPerSecond(), f.flopsPerToken() / 1e9, "%.1f"));
        System.out.println("RESULT MFU (model FLOP/s / matmul)=" + figure(f.mfu(), 1, "%.3f"));
        System.out.println("RESULT matmul GFLOP a CPU second=" + figure(f.matmulFlopsPerCpuSecond(), 1e-9, "%.1f"));
        System.out.println("RESULT training tokens a CPU second=" + figure(f.trainTokensPerCpuSecond(), 1, "%.1f"));
        System.out.println("RESULT MFU by CPU time=" + figure(f.mfuCpu(), 1, "%.3f"));
        System.out.println("RESULT peak RSS after training, MB=" + f.trainingPeakRssKb() / 1024);
        System.out.println("RESULT peak RSS in all, MB=" + f.peakRssKb() / 1024);
        System.out.println("RESULT Java heap committed at end, MB="
                + ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getCommitted() / (1 << 20));
        System.out.println("RESULT checkpoint GB=" + String.format("%.3f", f.checkpointGb()));
        System.out.println("RESULT checkpoint write s/GB=" + figure(f.writeSeconds(), 1 / f.checkpointGb(), "%.2f"));
        System.out.println("RESULT checkpoint load s/GB=" + figure(f.loadSeconds(), 1 / f.checkpointGb(), "%.2f"));
        System.out.println("RESULT ipt generate tokens/s=" + figure(f.generateTokensPerSecond(), 1, "%.2f"));
        System.out.println(
                "RESULT ipt generate tokens a CPU second=" + figure(f.generateTokensPerCpuSecond(), 1, "%.2f"));
        System.out.println("RESULT load average=" + loadAverage());
    }

    /** The median of values × scale, then every value: "12.3 (11.0 · 12.3 · 14.1)". */
    private static String figure(List<Double> values, double scale, String format) {
        List<Double> scaled = values.stream().map(v -> v * scale).toList();
        String runs = scaled.stream().map(v -> String.format(format, v)).collect(Collectors.joining(" · "));
        return String.format(format, median(scaled)) + " (" + runs + ")";
    }

    /** The models side by side, one row a figure. */
    private static void table(List<Map<String, String>> results) {
        System.out.println();
        StringBuilder header = new StringBuilder("| |");
        StringBuilder rule = new StringBuilder("|---|");
        for (Map<String, String> r : results) {
            header.append(' ').append(r.get("model")).append(" |");
            rule.append("---:|");
        }
        System.out.println(header);
        System.out.println(rule);
        for (String key : results.get(0).keySet()) {
            if (key.equals("model")) continue;
            StringBuilder row = new StringBuilder("| " + key + " |");
            for (Map<String, String> r : results)
                row.append(' ').append(r.getOrDefault(key, "")).append(" |");
            System.out.println(row);
        }
    }

    /**
     * FLOP/s of one N×N by N×N fp32 product through DJL after warm-up: the median of 20 per second of wall-clock time,
     * and the 20 together per second of this process's CPU time (which the kernel counts in 10 ms ticks, too coarse
     * for one product).
     */
    static double[] matmulFlops() {
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            NDArray a = manager.randomNormal(new Shape(MATMUL_N, MATMUL_N));
            NDArray b = manager.randomNormal(new Shape(MATMUL_N, MATMUL_N));
            double[] seconds = new double[20];
            long cpu = 0;
            for (int i = -3; i < seconds.length; i++) {
                long start = System.nanoTime();
                long cpuStart = cpuNanos();
                try (NDArray c = a.matMul(b)) { // eager on the CPU: done when it returns
                    if (i >= 0) {
                        seconds[i] = (System.nanoTime() - start) / 1e9;
                        cpu += cpuNanos() - cpuStart;
                    }
                }
            }
            Arrays.sort(seconds);
            double flops = 2.0 * MATMUL_N * MATMUL_N * MATMUL_N;
            return new double[] {flops / seconds[seconds.length / 2], flops * seconds.length / (cpu / 1e9)};
        }
    }

    /** CPU time of this process, all threads (with one engine thread, PyTorch computes on the calling one). */
    private static long cpuNanos() {
        return ManagementFactory.getPlatformMXBean(com.sun.management.OperatingSystemMXBean.class)
                .getProcessCpuTime();
    }

    private static int[][] batch(SplittableRandom random, int vocab, int batch) {
        int[][] rows = new int[batch][CONTEXT + 1];
        for (int[] row : rows) for (int i = 0; i < row.length; i++) row[i] = random.nextInt(vocab - 1);
        return rows;
    }

    /** Printable ASCII, one byte-level token a character. */
    private static String text(SplittableRandom random, int length) {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < length; i++) text.append((char) ('a' + random.nextInt(26)));
        return text.toString();
    }

    private static long bytes(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            long total = 0;
            for (Path file : files.toList()) total += Files.size(file);
            return total;
        }
    }

    /** A /proc/self/status field in kB (VmHWM: peak resident set). */
    static long status(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field + ":")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
        throw new IOException("no " + field + " in /proc/self/status");
    }

    private static String loadAverage() {
        try {
            String[] fields = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return fields[0] + " " + fields[1] + " " + fields[2];
        } catch (IOException e) {
            return "unknown";
        }
    }

    private static double seconds(long startNanos) {
        return (System.nanoTime() - startNanos) / 1e9;
    }

    private static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        return sorted.get(sorted.size() / 2);
    }
}
