package io.ublk.blockcache.cache;

import io.ublk.blockcache.cache.format.VolumeHeader;
import io.ublk.blockcache.cache.volume.Volume;
import io.ublk.s3.ObjectStore;
import java.util.UUID;

/** Reads a volume's committed image straight from the store, as a cold reader would, without claiming it. */
final class StoreImage {
    private StoreImage() {}

    /** The image of the latest generation; tries again if compaction deleted a segment while it read. */
    static byte[] read(ObjectStore store, String name) {
        for (int attempt = 0; ; attempt++) {
            try {
                return readOnce(store, name);
            } catch (io.ublk.s3.ObjectNotFoundException e) {
                if (attempt == 5) {
                    throw e;
                }
            }
        }
    }

    private static byte[] readOnce(ObjectStore store, String name) {
        VolumeHeader h = Volume.readHeader(store, name);
        Volume v = Volume.load(store, name, h, UUID.randomUUID(), new CacheStats());
        byte[] image = new byte[(int) h.size()];
        for (int b = 0; b < v.index.blocks(); b++) {
            long loc = v.index.get(b);
            if (loc != 0) {
                byte[] data = Volume.await(v.fetch(loc)).data();
                System.arraycopy(data, 0, image, b * h.blockSize(), h.blockSize());
            }
        }
        return image;
    }

    static long generation(ObjectStore store, String name) {
        VolumeHeader h = Volume.readHeader(store, name);
        return Volume.load(store, name, h, UUID.randomUUID(), new CacheStats()).generation;
    }
}
