package io.ublk.headers;

import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/** Helpers the struct classes use to derive offsets and var handles from their layouts. */
final class Layouts {
    private Layouts() {}

    /** Byte offset of the member reached by {@code path}. */
    static long offset(StructLayout layout, String... path) {
        return layout.byteOffset(elements(path));
    }

    /**
     * Var handle of the member reached by {@code path}, with the base-offset coordinate bound to 0:
     * its only coordinate is the {@code MemorySegment} holding the struct at offset 0.
     */
    static VarHandle handle(StructLayout layout, String... path) {
        return MethodHandles.insertCoordinates(layout.varHandle(elements(path)), 1, 0L);
    }

    /** Like {@link #handle} for element {@code index} of an array member. */
    static VarHandle elementHandle(StructLayout layout, String array, long index) {
        return MethodHandles.insertCoordinates(
                layout.varHandle(PathElement.groupElement(array), PathElement.sequenceElement(index)), 1, 0L);
    }

    private static PathElement[] elements(String... path) {
        PathElement[] elements = new PathElement[path.length];
        for (int i = 0; i < path.length; i++) {
            elements[i] = PathElement.groupElement(path[i]);
        }
        return elements;
    }
}
