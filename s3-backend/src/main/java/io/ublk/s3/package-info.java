/**
 * Object stores that hold volume data: the {@link io.ublk.s3.ObjectStore} contract and its
 * implementations, {@link io.ublk.s3.S3ObjectStore} (AWS SDK v2, async) and
 * {@link io.ublk.s3.LocalObjectStore} (a folder, the embedded default), plus
 * {@link io.ublk.s3.FaultInjectingStore} for tests of what sits above a store. Depends on nothing
 * else of ours; see ARCHITECTURE.md beside the pom.
 */
package io.ublk.s3;
