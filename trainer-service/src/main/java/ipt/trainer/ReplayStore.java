package ipt.trainer;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * Old training sequences, kept in RocksDB to be replayed next to new data. Entries are numbered in
 * the order they were added and tagged with the checkpoint version whose round added them, so the
 * store can be rolled back to the last checkpoint whose Kafka transaction committed.
 */
final class ReplayStore implements AutoCloseable {
  private static final byte[] COUNT = "meta:count".getBytes(StandardCharsets.UTF_8);

  static {
    RocksDB.loadLibrary();
  }

  private final Options options;
  private final RocksDB db;
  private final WriteOptions durable;
  private long count;

  record Entry(long version, String domain, int[] tokens) {}

  ReplayStore(Path dir) throws RocksDBException {
    try {
      Files.createDirectories(dir);
    } catch (java.io.IOException e) {
      throw new RocksDBException("cannot create " + dir + ": " + e.getMessage());
    }
    options = new Options().setCreateIfMissing(true);
    db = RocksDB.open(options, dir.toString());
    durable = new WriteOptions().setSync(true);
    byte[] stored = db.get(COUNT);
    count = stored == null ? 0 : ByteBuffer.wrap(stored).getLong();
  }

  long size() {
    return count;
  }

  /** Adds sequences of one round atomically, with the version that round will publish. */
  void append(long version, List<Packer.Sequence> sequences) throws RocksDBException {
    try (WriteBatch batch = new WriteBatch()) {
      long n = count;
      for (Packer.Sequence s : sequences) batch.put(key(n++), value(version, s.domain(), s.tokens()));
      batch.put(COUNT, ByteBuffer.allocate(8).putLong(n).array());
      db.write(durable, batch);
      count = n;
    }
  }

  /** Drops every entry added by a version newer than {@code committedVersion}. */
  long rollbackTo(long committedVersion) throws RocksDBException {
    long n = count;
    while (n > 0 && get(n - 1).version() > committedVersion) n--;
    if (n == count) return 0;
    long dropped = count - n;
    try (WriteBatch batch = new WriteBatch()) {
      batch.deleteRange(key(n), key(count));
      batch.put(COUNT, ByteBuffer.allocate(8).putLong(n).array());
      db.write(durable, batch);
    }
    count = n;
    return dropped;
  }

  /** {@code n} entries drawn uniformly with replacement from the first {@code limit} entries. */
  List<Entry> sample(int n, long limit, SplittableRandom random) throws RocksDBException {
    List<Entry> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) out.add(get(random.nextLong(limit)));
    return out;
  }

  Entry get(long index) throws RocksDBException {
    byte[] bytes = db.get(key(index));
    if (bytes == null) throw new RocksDBException("replay entry " + index + " is missing");
    ByteBuffer in = ByteBuffer.wrap(bytes);
    long version = in.getLong();
    byte[] domain = new byte[in.getShort()];
    in.get(domain);
    byte[] tokens = new byte[in.remaining()];
    in.get(tokens);
    return new Entry(version, new String(domain, StandardCharsets.UTF_8), Packer.decodeTokens(tokens));
  }

  private static byte[] key(long index) {
    return ByteBuffer.allocate(9).put((byte) 's').putLong(index).array();
  }

  private static byte[] value(long version, String domain, int[] tokens) {
    byte[] d = domain.getBytes(StandardCharsets.UTF_8);
    byte[] t = Packer.encodeTokens(tokens);
    return ByteBuffer.allocate(8 + 2 + d.length + t.length).putLong(version).putShort((short) d.length).put(d).put(t).array();
  }

  @Override
  public void close() {
    durable.close();
    db.close();
    options.close();
  }
}
