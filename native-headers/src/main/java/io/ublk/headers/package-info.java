/** Raw FFM bindings (libc, io_uring, ublk uapi): layouts, constants, downcalls; no policy. */
package io.ublk.headers;
