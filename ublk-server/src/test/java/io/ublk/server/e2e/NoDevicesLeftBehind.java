package io.ublk.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.ublk.server.ctrl.UblkControl;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Every VM test class leaves {@code /dev} with the ublk nodes it found: a class that kills a server
 * and forgets {@code delete --stale} fails itself, instead of a later class that counts nodes.
 * Registered for every test class by service loading ({@code junit.jupiter.extensions.autodetection}
 * in the failsafe configuration); a no-op where the kernel has no ublk.
 */
public final class NoDevicesLeftBehind implements BeforeAllCallback, AfterAllCallback {
    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(NoDevicesLeftBehind.class);

    @Override
    public void beforeAll(ExtensionContext context) {
        if (Files.exists(UblkControl.CONTROL_PATH)) {
            context.getStore(NS).put("before", ublkNodes());
        }
    }

    @Override
    public void afterAll(ExtensionContext context) {
        @SuppressWarnings("unchecked")
        List<String> before = context.getStore(NS).get("before", List.class);
        if (before == null) {
            return;
        }
        List<String> left = new ArrayList<>(ublkNodes());
        left.removeAll(before);
        assertThat(left).as("ublk nodes %s left in /dev (a killed server's devices need delete --stale)",
                context.getRequiredTestClass().getSimpleName()).isEmpty();
    }

    /** The {@code ublkbN} and {@code ublkcN} nodes in {@code /dev}, sorted. */
    static List<String> ublkNodes() {
        try (Stream<Path> s = Files.list(Path.of("/dev"))) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.matches("ublk[bc]\\d+")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
