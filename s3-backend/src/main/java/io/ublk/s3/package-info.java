/** Object stores that hold volume data: S3 and a local directory. */
package io.ublk.s3;
