/** The write-back block cache and the BlockTarget contract the data plane calls. */
package io.ublk.blockcache;
