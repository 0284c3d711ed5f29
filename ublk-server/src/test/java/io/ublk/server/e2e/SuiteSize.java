package io.ublk.server.e2e;

/**
 * The size of a long VM suite: system property {@code property}, else environment variable
 * {@code env} (scripts/test passes it into the guest), else {@code dflt}, the full run's size.
 */
final class SuiteSize {
    private SuiteSize() {}

    static long of(String property, String env, long dflt) {
        String v = System.getProperty(property, System.getenv(env));
        return v == null || v.isBlank() ? dflt : Long.parseLong(v.strip());
    }
}
