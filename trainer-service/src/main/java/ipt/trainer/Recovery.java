package ipt.trainer;

import ipt.model.Training;
import ipt.trainer.TrainerConfig.Steering;
import java.util.List;

/**
 * What a run of settled rejections calls for before a round ({@link Steering.Recovery}): nothing yet, restarting
 * from the champion, mixing the working weights with the champion's, or declining (a rejection run answered
 * without touching the weights). Decided only on the lineage state, so a resumed trainer decides the same.
 */
record Recovery(Action action, long champion, List<Long> rejected) {
    enum Action {
        NONE,
        RESET,
        INTERPOLATE,
        DECLINE
    }

    static final Recovery NOTHING = new Recovery(Action.NONE, 0, List.of());

    static Recovery decide(TrainerConfig config, LineageState state) {
        int after = config.forgetting().resetAfterRejections();
        GateEvidence e = state.evidence();
        List<Long> rejected = e.rejectedSince().stream()
                .filter(v -> v > state.lastResetAfter())
                .toList();
        if (after == 0 || e.champion() == 0 || rejected.size() < after) return NOTHING;
        Action action = switch (config.steering().recovery()) {
            case NONE -> Action.NONE;
            case RESET -> Action.RESET;
            // Worse overall: the newest rejected candidate's mean relative change against the champion is a loss.
            case RESET_IF_WORSE -> e.latestOverall() > 0 ? Action.RESET : Action.DECLINE;
            case INTERPOLATE -> Action.INTERPOLATE;
        };
        return action == Action.NONE ? NOTHING : new Recovery(action, e.champion(), rejected);
    }

    long answers() {
        return rejected.get(rejected.size() - 1);
    }

    /**
     * The weights to go on with: the champion's, counting steps on from the working model's, or the working weights
     * moved toward the champion's; closes the model it does not return.
     */
    Training apply(Training working, Training champion, TrainerConfig config) {
        if (action == Action.RESET) {
            champion.continueStepsFrom(working.step());
            working.close();
            return champion;
        }
        working.model().interpolate(champion.model(), (float) config.steering().keep());
        champion.close();
        return working;
    }

    /** The state once this recovery is done: the run answered, the fraction raised unless the gain steers it. */
    LineageState applied(LineageState state, TrainerConfig config) {
        if (action == Action.DECLINE) return state.answered(answers());
        TrainerConfig.Forgetting f = config.forgetting();
        double fraction = config.steering().gain() > 0
                ? state.replayFraction()
                : Math.min(f.maxReplay(), state.replayFraction() + f.replayRaise());
        return state.recovered(fraction, answers());
    }
}
