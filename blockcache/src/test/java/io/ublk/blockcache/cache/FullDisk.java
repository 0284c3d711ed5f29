package io.ublk.blockcache.cache;

import io.ublk.blockcache.cache.journal.JournalChannels;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.FileSystemException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Journal files on a disk that can be made full: while {@link #full}, creating a file fails, and
 * so does every write, after a torn first part of the record it was given (what ENOSPC leaves
 * when the disk fills in the middle of a record). Forces and reads work throughout.
 */
final class FullDisk implements JournalChannels {
    /** The bytes of a record that land before the disk is full. */
    static final int TORN = 100;
    volatile boolean full;
    final AtomicInteger refused = new AtomicInteger();

    @Override
    public FileChannel open(Path path, Set<? extends OpenOption> options, FileAttribute<?>... attributes)
            throws IOException {
        refuseIfFull(path);
        return new Channel(path, FileChannel.open(path, options, attributes));
    }

    private void refuseIfFull(Path path) throws IOException {
        if (full) {
            refused.incrementAndGet();
            throw new FileSystemException(path.toString(), null, "No space left on device");
        }
    }

    private final class Channel extends FileChannel {
        private final Path path;
        private final FileChannel in;
        /** Whether a write since the disk became full left its torn part (the next one fails whole). */
        private boolean tore;

        Channel(Path path, FileChannel in) {
            this.path = path;
            this.in = in;
        }

        @Override
        public int write(ByteBuffer src, long position) throws IOException {
            if (!full) {
                tore = false;
                return in.write(src, position);
            }
            if (!tore && src.remaining() > TORN) {
                tore = true;
                int n = in.write(src.slice(src.position(), TORN), position);
                src.position(src.position() + n);
                return n;
            }
            refuseIfFull(path);
            return in.write(src, position);
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            refuseIfFull(path);
            return in.write(src);
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
            refuseIfFull(path);
            return in.write(srcs, offset, length);
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            return in.read(dst);
        }

        @Override
        public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
            return in.read(dsts, offset, length);
        }

        @Override
        public int read(ByteBuffer dst, long position) throws IOException {
            return in.read(dst, position);
        }

        @Override
        public long position() throws IOException {
            return in.position();
        }

        @Override
        public FileChannel position(long newPosition) throws IOException {
            in.position(newPosition);
            return this;
        }

        @Override
        public long size() throws IOException {
            return in.size();
        }

        @Override
        public FileChannel truncate(long size) throws IOException {
            in.truncate(size);
            return this;
        }

        @Override
        public void force(boolean metaData) throws IOException {
            in.force(metaData);
        }

        @Override
        public long transferTo(long position, long count, WritableByteChannel target) throws IOException {
            return in.transferTo(position, count, target);
        }

        @Override
        public long transferFrom(ReadableByteChannel src, long position, long count) throws IOException {
            refuseIfFull(path);
            return in.transferFrom(src, position, count);
        }

        @Override
        public MappedByteBuffer map(MapMode mode, long position, long size) throws IOException {
            return in.map(mode, position, size);
        }

        @Override
        public MemorySegment map(MapMode mode, long offset, long size, Arena arena) throws IOException {
            return in.map(mode, offset, size, arena);
        }

        @Override
        public FileLock lock(long position, long size, boolean shared) throws IOException {
            return in.lock(position, size, shared);
        }

        @Override
        public FileLock tryLock(long position, long size, boolean shared) throws IOException {
            return in.tryLock(position, size, shared);
        }

        @Override
        protected void implCloseChannel() throws IOException {
            in.close();
        }
    }
}
