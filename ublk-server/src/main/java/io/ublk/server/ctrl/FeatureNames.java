package io.ublk.server.ctrl;

import io.ublk.headers.UblkFeatures;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Names of {@code UBLK_F_*} bits, taken from the probe-checked {@link UblkFeatures} constants (6.12's bits
 * 0-8 and the later kernels' bits 9-19); a bit this build does not know reads {@code bit N}.
 */
public final class FeatureNames {
    /** bit index -> name, e.g. 7 -> USER_COPY. */
    private static final Map<Integer, String> NAMES = scan();

    private FeatureNames() {}

    private static Map<Integer, String> scan() {
        Map<Integer, String> names = new TreeMap<>();
        for (Field f : UblkFeatures.class.getFields()) {
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == long.class) {
                try {
                    long bit = f.getLong(null);
                    if (Long.bitCount(bit) == 1) {
                        names.put(Long.numberOfTrailingZeros(bit), f.getName());
                    }
                } catch (IllegalAccessException e) {
                    throw new AssertionError(e);
                }
            }
        }
        return names;
    }

    /** The name of one bit, or {@code bit N} when this build does not know it. */
    public static String name(int bit) {
        return NAMES.getOrDefault(bit, "bit " + bit);
    }

    /** Names of the bits set in {@code flags}, lowest first. */
    public static List<String> names(long flags) {
        List<String> out = new ArrayList<>();
        for (int bit = 0; bit < 64; bit++) {
            if ((flags & (1L << bit)) != 0) {
                out.add(name(bit));
            }
        }
        return out;
    }

    /** Names of the bits of {@code required} missing from {@code supported}. */
    public static List<String> missing(long supported, long required) {
        return names(required & ~supported);
    }
}
