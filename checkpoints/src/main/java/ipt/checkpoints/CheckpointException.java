package ipt.checkpoints;

/** A checkpoint directory that must not be used: which file is wrong, and why. */
public final class CheckpointException extends Exception {

    private final String file;

    CheckpointException(String file, String reason) {
        super(file + ": " + reason);
        this.file = file;
    }

    CheckpointException(String file, String reason, Throwable cause) {
        super(file + ": " + reason, cause);
        this.file = file;
    }

    /** The file at fault, relative to the checkpoint directory. */
    public String file() {
        return file;
    }
}
