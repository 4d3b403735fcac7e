package ipt.bench;

/**
 * What a fault did and how long the pipeline took to recover from it by itself: seconds from the fault's end (the
 * process started again) to the first output that shows the work resumed; negative when that never came.
 */
record SoakRecovery(SoakFault fault, double injectedAt, double seconds, String detail) {
    boolean recovered() {
        return seconds >= 0;
    }
}
