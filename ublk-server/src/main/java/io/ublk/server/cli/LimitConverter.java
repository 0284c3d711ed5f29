package io.ublk.server.cli;

import java.time.Duration;
import picocli.CommandLine.ITypeConverter;

/** A time limit: a {@link DurationConverter} duration, or {@code 0} / {@code off} for no limit ({@link Duration#ZERO}). */
final class LimitConverter implements ITypeConverter<Duration> {
    private final DurationConverter durations = new DurationConverter();

    @Override
    public Duration convert(String value) {
        String v = value.trim();
        return v.equals("0") || v.equals("off") ? Duration.ZERO : durations.convert(value);
    }
}
