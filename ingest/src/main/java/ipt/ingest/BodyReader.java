package ipt.ingest;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;

/**
 * Reads a request body as it arrives, holding no thread while the client is slow (a blocking read would give
 * every slow client a server thread). Stops after {@code limit + 1} bytes: the caller then knows it is too large.
 */
final class BodyReader implements Runnable {
    private final Request request;
    private final int limit;
    private final ByteArrayOutputStream body = new ByteArrayOutputStream();
    private final CompletableFuture<byte[]> done = new CompletableFuture<>();

    private BodyReader(Request request, int limit) {
        this.request = request;
        this.limit = limit;
    }

    static CompletableFuture<byte[]> read(Request request, int limit) {
        BodyReader reader = new BodyReader(request, limit);
        reader.run();
        return reader.done;
    }

    @Override
    public void run() {
        while (true) {
            Content.Chunk chunk = request.read();
            if (chunk == null) {
                request.demand(this);
                return;
            }
            if (Content.Chunk.isFailure(chunk)) {
                done.completeExceptionally(chunk.getFailure());
                return;
            }
            ByteBuffer buffer = chunk.getByteBuffer();
            int take = Math.min(buffer.remaining(), limit + 1 - body.size());
            byte[] bytes = new byte[take];
            buffer.get(bytes);
            body.writeBytes(bytes);
            boolean last = chunk.isLast();
            chunk.release();
            if (last || body.size() > limit) {
                done.complete(body.toByteArray());
                return;
            }
        }
    }
}
