package io.ublk.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ublk.server.admin.AdminClient;
import io.ublk.server.admin.Protocol;
import io.ublk.server.daemon.DaemonException;
import java.io.PrintWriter;
import java.nio.file.Path;
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

    /** Sends {@code req}; progress lines go to stderr. Returns the result, or null after printing the error. */
    JsonNode call(CommandSpec spec, ObjectNode req) {
        PrintWriter err = spec.commandLine().getErr();
        // on a terminal each progress line replaces the last; otherwise one line per step
        boolean tty = System.console() != null && System.console().isTerminal();
        boolean[] open = {false};
        try {
            JsonNode r = client().call(req, line -> {
                if (tty) {
                    err.print("\r\033[K" + line);
                    open[0] = true;
                } else {
                    err.println(line);
                }
                err.flush();
            });
            if (open[0]) {
                err.println();
                err.flush();
            }
            return r;
        } catch (DaemonException e) {
            if (open[0]) {
                err.println();
            }
            err.println("ublk-server: " + e.code() + ": " + e.getMessage());
            err.flush();
            failure = e.code().isRefusal() ? 2 : 1;
            return null;
        }
    }

    int failure = 0;

    /** Prints {@code result} as one line of JSON. */
    void printJson(CommandSpec spec, JsonNode result) {
        PrintWriter out = spec.commandLine().getOut();
        out.println(result.toString());
        out.flush();
    }
}
