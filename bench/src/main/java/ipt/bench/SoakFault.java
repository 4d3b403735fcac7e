package ipt.bench;

import java.util.ArrayList;
import java.util.List;

/** One fault of the soak's schedule: what, on which process, and when (seconds after the stream started). */
record SoakFault(Kind kind, String target, double atSeconds) {
    enum Kind {
        TRAINER_KILL("SIGKILL + restart"),
        EVALUATOR_KILL("SIGKILL + restart"),
        CURATION_KILL("SIGKILL + restart"),
        BROKER_RESTART("stop + start, same port and data"),
        S3_OUTAGE("S3Proxy killed during a checkpoint upload, started again"),
        REPLAY_LOST("SIGKILL, replay directory deleted, restart");

        final String what;

        Kind(String what) {
            this.what = what;
        }
    }

    /**
     * {@code count} faults (at least one of each kind), the kinds in turn, evenly spread over 15–80% of the run; the
     * trainer faults take the lineages in turn.
     */
    static List<SoakFault> schedule(double runSeconds, int count, List<String> lineages) {
        Kind[] kinds = Kind.values();
        int n = Math.max(count, kinds.length);
        List<SoakFault> faults = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Kind kind = kinds[i % kinds.length];
            int cycle = i / kinds.length;
            String target = switch (kind) {
                case TRAINER_KILL -> "trainer-" + lineages.get(cycle % lineages.size());
                case REPLAY_LOST -> "trainer-" + lineages.get((cycle + 1) % lineages.size());
                case EVALUATOR_KILL -> "evaluator";
                case CURATION_KILL -> "curation";
                case BROKER_RESTART -> "broker";
                case S3_OUTAGE -> "s3proxy";
            };
            faults.add(new SoakFault(kind, target, runSeconds * (0.15 + 0.65 * i / Math.max(1, n - 1))));
        }
        return faults;
    }

    String describe() {
        return kind.name().toLowerCase().replace('_', ' ') + " (" + target + "): " + kind.what;
    }
}
