package io.ublk.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ublk.server.admin.AdminClient;
import io.ublk.server.admin.Protocol;
import io.ublk.server.daemon.DaemonException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.function.BiConsumer;
import java.util.function.UnaryOperator;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/**
 * How a CLI command reaches the daemon (a picocli mixin): its socket, and whether to print the
 * answer as JSON. Errors print as one line {@code ublk-server: CODE: message}; exit code 2 for a
 * refused request (nothing changed), 1 for a failure.
 */
final class ClientOptions {
    @Option(names = "--socket", description = "The daemon's admin socket. Default: " + "/run/ublk-server/admin.sock.")
    Path socket = Protocol.DEFAULT_SOCKET;

    @Option(names = "--json", description = "Print the daemon's answer as JSON.")
    boolean json;

    AdminClient client() {
        return new AdminClient(socket);
    }

    /**
     * Sends {@code req} (progress lines to stderr) and prints the answer: with {@code --json} the
     * part {@code select} picks, as one line of JSON; otherwise what {@code human} prints.
     *
     * @return the exit code: 0, 2 for a refused request, 1 for a failure (one line on stderr)
     */
    int answer(CommandSpec spec, ObjectNode req, UnaryOperator<JsonNode> select, BiConsumer<PrintWriter, JsonNode> human) {
        PrintWriter err = spec.commandLine().getErr();
        // on a terminal each progress line replaces the last; otherwise one line per step
        boolean tty = System.console() != null && System.console().isTerminal();
        boolean[] open = {false};
        JsonNode r;
        try {
            r = client().call(req, line -> {
                if (tty) {
                    err.print("\r\033[K" + line);
                    open[0] = true;
                } else {
                    err.println(line);
                }
                err.flush();
            });
        } catch (DaemonException e) {
            if (open[0]) {
                err.println();
            }
            err.println("ublk-server: " + e.code() + ": " + e.getMessage());
            err.flush();
            return e.code().isRefusal() ? 2 : 1;
        }
        if (open[0]) {
            err.println();
            err.flush();
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(select.apply(r).toString());
        } else {
            human.accept(out, r);
        }
        out.flush();
        return 0;
    }

    /** {@link #answer(CommandSpec, ObjectNode, UnaryOperator, BiConsumer)} printing the whole result as JSON. */
    int answer(CommandSpec spec, ObjectNode req, BiConsumer<PrintWriter, JsonNode> human) {
        return answer(spec, req, UnaryOperator.identity(), human);
    }
}
