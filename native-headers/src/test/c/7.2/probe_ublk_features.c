/*
 * Probe for the UBLK_F_* bits later kernels added (bits 9 and up), compiled against the 7.2 uapi
 * header (.cache/uapi-7.2, scripts/setup-uapi): the 6.12 header of the other probes lacks them.
 */
#include <linux/ublk_cmd.h>

#include "probe.h"

int main(void)
{
	CONST(UblkFeatures, USER_RECOVERY_FAIL_IO, UBLK_F_USER_RECOVERY_FAIL_IO);
	CONST(UblkFeatures, UPDATE_SIZE, UBLK_F_UPDATE_SIZE);
	CONST(UblkFeatures, AUTO_BUF_REG, UBLK_F_AUTO_BUF_REG);
	CONST(UblkFeatures, QUIESCE, UBLK_F_QUIESCE);
	CONST(UblkFeatures, PER_IO_DAEMON, UBLK_F_PER_IO_DAEMON);
	CONST(UblkFeatures, BUF_REG_OFF_DAEMON, UBLK_F_BUF_REG_OFF_DAEMON);
	CONST(UblkFeatures, BATCH_IO, UBLK_F_BATCH_IO);
	CONST(UblkFeatures, INTEGRITY, UBLK_F_INTEGRITY);
	CONST(UblkFeatures, SAFE_STOP_DEV, UBLK_F_SAFE_STOP_DEV);
	CONST(UblkFeatures, NO_AUTO_PART_SCAN, UBLK_F_NO_AUTO_PART_SCAN);
	CONST(UblkFeatures, SHMEM_ZC, UBLK_F_SHMEM_ZC);
	return 0;
}
