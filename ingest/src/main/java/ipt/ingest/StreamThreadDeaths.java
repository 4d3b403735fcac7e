package ipt.ingest;

import java.util.Optional;

/**
 * Which raw record each stream thread is curating, so that a thread dying again and again on the same record (a
 * partition that cannot move on) is told apart from a thread lost to a passing fault. Stream threads call
 * {@link #processing} and {@link #done}; the uncaught-exception handler, which runs on the dying thread, calls
 * {@link #died}.
 */
final class StreamThreadDeaths {
    /** Deaths in a row on one record after which the service reports itself failing. */
    static final int STUCK_AFTER = 3;

    private final ThreadLocal<String> inFlight = new ThreadLocal<>();
    private String lastPosition;
    private int inARow;

    void processing(String topic, int partition, long offset) {
        inFlight.set(topic + "-" + partition + "@" + offset);
    }

    void done() {
        inFlight.remove();
    }

    /** Called on the dying thread: the record it was on, if it was on one. */
    synchronized Optional<String> died() {
        String position = inFlight.get();
        inFlight.remove();
        if (position == null) return Optional.empty();
        inARow = position.equals(lastPosition) ? inARow + 1 : 1;
        lastPosition = position;
        return Optional.of(position);
    }

    /** Set once {@link #STUCK_AFTER} deaths in a row fell on the same record; cleared by a death on another. */
    synchronized Optional<String> stuck() {
        return inARow >= STUCK_AFTER
                ? Optional.of(inARow + " stream-thread deaths in a row on " + lastPosition)
                : Optional.empty();
    }
}
