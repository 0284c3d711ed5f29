package io.ublk.s3;

import java.util.List;

/** One page of a listing; {@code next} continues it, {@code null} on the last page. */
public record ListPage(List<ObjectInfo> objects, String next) {}
