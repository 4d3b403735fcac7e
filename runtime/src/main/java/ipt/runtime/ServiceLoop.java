package ipt.runtime;

import ipt.runtime.StatusServer.Health;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.function.Consumer;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A service's main loop on its own thread: runs sessions until closed. A session sets up its Kafka clients, works
 * while {@link #running}, and closes them; one that fails (broker unreachable, fenced, a transaction that would not
 * commit) is abandoned whole, and the next one starts over from what Kafka and the disk hold, as a restarted process
 * would. Closing wakes the consumer the session waits on.
 */
public final class ServiceLoop implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ServiceLoop.class);

    /** One session; returns once the loop stops running, throws when it fails. */
    public interface Session {
        void run() throws Exception;
    }

    private final String name;
    private final Session session;
    private final Consumer<Exception> onFailure;
    private final Runnable afterSession;
    private final Duration retryBackoff;
    private final Thread thread;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile boolean running = true;
    private volatile Health health = Health.ok("starting");
    private volatile org.apache.kafka.clients.consumer.Consumer<?, ?> waitingOn;

    /**
     * A loop named {@code name} (its thread's name too). After a failed session {@code onFailure} hears why and the
     * next session waits {@code retryBackoff}; {@code afterSession} runs after every session, failed or not.
     */
    public ServiceLoop(
            String name, Session session, Consumer<Exception> onFailure, Runnable afterSession, Duration retryBackoff) {
        this.name = name;
        this.session = session;
        this.onFailure = onFailure;
        this.afterSession = afterSession;
        this.retryBackoff = retryBackoff;
        this.thread = new Thread(this::run, name);
    }

    public void start() {
        thread.start();
    }

    public boolean running() {
        return running;
    }

    public Health health() {
        return health;
    }

    public void health(Health now) {
        health = now;
    }

    /** The consumer the current session waits on in poll: closing the loop wakes it. Set before the first poll. */
    public void wakeOnClose(org.apache.kafka.clients.consumer.Consumer<?, ?> consumer) {
        waitingOn = consumer;
    }

    private void run() {
        try {
            while (running) {
                try {
                    session.run();
                } catch (WakeupException e) {
                    if (running) health = Health.failing("woken up unexpectedly");
                } catch (Exception e) {
                    if (!running) {
                        // Work in flight abandoned because the service is stopping (e.g. a round before its next step).
                        log.info("{} stopped: {}", name, e.getMessage());
                        break;
                    }
                    log.error("{} failed; starting a new session", name, e);
                    health = Health.failing(e.toString());
                    onFailure.accept(e);
                    Thread.sleep(retryBackoff.toMillis());
                } finally {
                    waitingOn = null;
                    afterSession.run();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            stopped.countDown();
        }
    }

    /** Stops the loop: the current session is woken and ends; returns when it has. */
    @Override
    public void close() throws InterruptedException {
        running = false;
        org.apache.kafka.clients.consumer.Consumer<?, ?> c = waitingOn;
        if (c != null) {
            try {
                c.wakeup();
            } catch (IllegalStateException closedAlready) {
                // Between sessions: the loop sees running == false.
            }
        }
        stopped.await();
    }
}
