package io.ublk.server.cli;

import io.ublk.s3.ObjectStore;
import io.ublk.s3.S3StoreConfig;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * Where cached volumes are kept (a picocli mixin shared by {@code run} and {@code drain}): the
 * embedded local store, a folder, or an S3 bucket. Every option is optional here; {@link #validate}
 * states the rules, so a bad combination is refused before anything is opened or created.
 */
final class StoreOptions {
    static final String LOCAL = "local";
    static final String S3 = "s3";

    @Option(names = "--store", description = "Where volumes are kept: local (a folder, the default) or s3.")
    String store;

    @Option(names = "--store-dir", description = "--store local: the folder holding the volumes (created if missing).")
    Path storeDir;

    @Option(names = "--bucket", description = "--store s3: the bucket.")
    String bucket;

    @Option(names = "--prefix", description = "--store s3: key prefix inside the bucket (volumes go below it).")
    String prefix;

    @Option(names = "--endpoint", converter = EndpointConverter.class,
            description = "--store s3: endpoint URL of an S3-compatible store, e.g. http://127.0.0.1:9000 (no credentials in it).")
    URI endpoint;

    @Option(names = "--path-style", description = "--store s3: path-style requests (http://host/bucket/key), for S3-compatible stores.")
    boolean pathStyle;

    @Option(names = "--region", description = "--store s3: region (default: the AWS SDK's region chain, else us-east-1).")
    String region;

    /** The store asked for; local when none was named. */
    String kind() {
        return store == null ? LOCAL : store;
    }

    /** The options given on the command line, for "applies to --target cache only" messages. */
    List<String> given() {
        List<String> g = new ArrayList<>();
        addIf(g, store != null, "--store");
        addIf(g, storeDir != null, "--store-dir");
        addIf(g, bucket != null, "--bucket");
        addIf(g, prefix != null, "--prefix");
        addIf(g, endpoint != null, "--endpoint");
        addIf(g, pathStyle, "--path-style");
        addIf(g, region != null, "--region");
        return g;
    }

    static void addIf(List<String> list, boolean given, String name) {
        if (given) {
            list.add(name);
        }
    }

    /**
     * Checks the combination; the message states the rule broken. Touches nothing. With
     * {@code existing}, only volumes already in the store are wanted, so a missing --store-dir is
     * an error rather than a folder to create.
     */
    void validate(boolean existing) {
        switch (kind()) {
            case LOCAL -> {
                List<String> s3Only = new ArrayList<>();
                addIf(s3Only, bucket != null, "--bucket");
                addIf(s3Only, prefix != null, "--prefix");
                addIf(s3Only, endpoint != null, "--endpoint");
                addIf(s3Only, pathStyle, "--path-style");
                addIf(s3Only, region != null, "--region");
                if (!s3Only.isEmpty()) {
                    throw new IllegalArgumentException(String.join(", ", s3Only) + " need --store s3");
                }
                if (storeDir == null) {
                    throw new IllegalArgumentException("--store local needs --store-dir");
                }
                if (existing && !java.nio.file.Files.isDirectory(storeDir)) {
                    throw new IllegalArgumentException("--store-dir does not exist: " + storeDir
                            + " (it holds no volume to open; give --size to create one)");
                }
                Folders.checkUsable("--store-dir", storeDir);
            }
            case S3 -> {
                if (storeDir != null) {
                    throw new IllegalArgumentException("--store-dir needs --store local (--store s3 keeps volumes in --bucket)");
                }
                if (bucket == null || bucket.isBlank()) {
                    throw new IllegalArgumentException("--store s3 needs --bucket");
                }
                if (!bucket.matches("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")) {
                    throw new IllegalArgumentException("--bucket must be an S3 bucket name (3-63 of a-z 0-9 . -): '"
                            + bucket + "'");
                }
                if (prefix != null && prefix.startsWith("/")) {
                    throw new IllegalArgumentException("--prefix must not start with '/': '" + prefix + "'");
                }
                if (endpoint != null) {
                    checkEndpoint();
                }
                if (region != null && !region.matches("[a-z0-9-]{1,64}")) {
                    throw new IllegalArgumentException("--region must look like us-east-1: '" + region + "'");
                }
            }
            default -> throw new IllegalArgumentException("--store must be local or s3: '" + store + "'");
        }
    }

    /** Messages show the endpoint redacted: it is refused here because it may hold a secret. */
    private void checkEndpoint() {
        String shown = S3StoreConfig.redact(endpoint);
        if (endpoint.getHost() == null || !("http".equals(endpoint.getScheme()) || "https".equals(endpoint.getScheme()))) {
            throw new IllegalArgumentException("--endpoint must be an http:// or https:// URL with a host: '" + shown + "'");
        }
        if (endpoint.getRawUserInfo() != null) {
            throw new IllegalArgumentException("--endpoint must not carry credentials ('" + shown + "'): give them in"
                    + " the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or an AWS profile (AWS_PROFILE)");
        }
        if (endpoint.getRawQuery() != null || endpoint.getRawFragment() != null) {
            throw new IllegalArgumentException("--endpoint must not have a query or fragment: '" + shown + "'");
        }
    }

    /** Names the store (after {@link #validate}): devices with the same key share one client. */
    String key() {
        if (LOCAL.equals(kind())) {
            return LOCAL + " " + storeDir.toAbsolutePath().normalize();
        }
        return String.join(" ", S3, bucket, prefix == null ? "" : prefix, endpoint == null ? "" : endpoint.toString(),
                Boolean.toString(pathStyle), region == null ? "" : region);
    }

    /** Opens the store (after {@link #validate}); the caller closes it. */
    ObjectStore open() {
        if (LOCAL.equals(kind())) {
            return Stores.local(storeDir);
        }
        return Stores.s3(bucket, prefix == null ? "" : prefix, endpoint, pathStyle, region);
    }
}
