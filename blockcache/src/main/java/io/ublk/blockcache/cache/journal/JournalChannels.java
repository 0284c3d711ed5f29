package io.ublk.blockcache.cache.journal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.util.Set;

/**
 * How new journal files are opened: through the file system ({@link #FILES}), or, in tests, through
 * channels that fail the way a full or failing disk does.
 */
@FunctionalInterface
public interface JournalChannels {
    JournalChannels FILES = FileChannel::open;

    FileChannel open(Path path, Set<? extends OpenOption> options, FileAttribute<?>... attributes) throws IOException;
}
