/**
 * USER_COPY bounce memory: a fixed per-worker pool of slots, so the bounce RSS of the whole
 * daemon is bounded by workers × slots × slot size however many devices and tags it serves.
 */
package io.ublk.server.buffer;
