package io.ublk.server.cli;

import java.net.URI;
import java.net.URISyntaxException;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * Parses {@code --endpoint} without echoing it when it is not a URL: picocli's own message would
 * quote the value, and a value that fails to parse may still hold credentials.
 */
final class EndpointConverter implements ITypeConverter<URI> {
    @Override
    public URI convert(String value) {
        try {
            return new URI(value);
        } catch (URISyntaxException e) {
            throw new TypeConversionException("not a URL (" + e.getReason() + " at index " + e.getIndex() + ")");
        }
    }
}
