/* Probe for the ublk uapi bindings (linux/ublk_cmd.h). */
#include <errno.h>
#include <linux/ioctl.h>
#include <linux/ublk_cmd.h>

#include "probe.h"

#define ROUND_UP(x, y) ((((x) - 1) | ((__typeof__(x))(y) - 1)) + 1)

/* USER_COPY position as the kernel decodes it (ublk_check_and_get_req) and libublksrv encodes it. */
static unsigned long long position(int qid, int tag, unsigned long long off)
{
	return UBLKSRV_IO_BUF_OFFSET +
	       ((__u64)qid << UBLK_QID_OFF | (__u64)tag << UBLK_TAG_OFF | off << UBLK_IO_BUF_OFF);
}

/* __ublk_queue_cmd_buf_size(): bytes of one queue's descriptor array. */
static unsigned long long queue_descriptor_size(int depth, unsigned long long page)
{
	return ROUND_UP(depth * sizeof(struct ublksrv_io_desc), page);
}

/* ublk_ch_mmap(): q_id = (offset - UBLKSRV_CMD_BUF_OFFSET) / ublk_max_cmd_buf_size(). */
static unsigned long long queue_descriptor_offset(int qid, unsigned long long page)
{
	return UBLKSRV_CMD_BUF_OFFSET + qid * queue_descriptor_size(UBLK_MAX_QUEUE_DEPTH, page);
}

static unsigned op(unsigned op_flags)
{
	struct ublksrv_io_desc iod = { .op_flags = op_flags };
	return ublksrv_get_op(&iod);
}

static unsigned flags(unsigned op_flags)
{
	struct ublksrv_io_desc iod = { .op_flags = op_flags };
	return ublksrv_get_flags(&iod);
}

int main(void)
{
	SIZE(UblksrvCtrlCmd, struct ublksrv_ctrl_cmd);
	FIELD(UblksrvCtrlCmd, DEV_ID, struct ublksrv_ctrl_cmd, dev_id);
	FIELD(UblksrvCtrlCmd, QUEUE_ID, struct ublksrv_ctrl_cmd, queue_id);
	FIELD(UblksrvCtrlCmd, LEN, struct ublksrv_ctrl_cmd, len);
	FIELD(UblksrvCtrlCmd, ADDR, struct ublksrv_ctrl_cmd, addr);
	OFFSET(UblksrvCtrlCmd, DATA, struct ublksrv_ctrl_cmd, data);
	HANDLE_BYTES(UblksrvCtrlCmd, DATA, ((struct ublksrv_ctrl_cmd *)0)->data[0]);
	FIELD(UblksrvCtrlCmd, DEV_PATH_LEN, struct ublksrv_ctrl_cmd, dev_path_len);
	FIELD(UblksrvCtrlCmd, PAD, struct ublksrv_ctrl_cmd, pad);
	FIELD(UblksrvCtrlCmd, RESERVED, struct ublksrv_ctrl_cmd, reserved);

	SIZE(UblksrvCtrlDevInfo, struct ublksrv_ctrl_dev_info);
	FIELD(UblksrvCtrlDevInfo, NR_HW_QUEUES, struct ublksrv_ctrl_dev_info, nr_hw_queues);
	FIELD(UblksrvCtrlDevInfo, QUEUE_DEPTH, struct ublksrv_ctrl_dev_info, queue_depth);
	FIELD(UblksrvCtrlDevInfo, STATE, struct ublksrv_ctrl_dev_info, state);
	FIELD(UblksrvCtrlDevInfo, PAD0, struct ublksrv_ctrl_dev_info, pad0);
	FIELD(UblksrvCtrlDevInfo, MAX_IO_BUF_BYTES, struct ublksrv_ctrl_dev_info, max_io_buf_bytes);
	FIELD(UblksrvCtrlDevInfo, DEV_ID, struct ublksrv_ctrl_dev_info, dev_id);
	FIELD(UblksrvCtrlDevInfo, UBLKSRV_PID, struct ublksrv_ctrl_dev_info, ublksrv_pid);
	FIELD(UblksrvCtrlDevInfo, PAD1, struct ublksrv_ctrl_dev_info, pad1);
	FIELD(UblksrvCtrlDevInfo, FLAGS, struct ublksrv_ctrl_dev_info, flags);
	FIELD(UblksrvCtrlDevInfo, UBLKSRV_FLAGS, struct ublksrv_ctrl_dev_info, ublksrv_flags);
	FIELD(UblksrvCtrlDevInfo, OWNER_UID, struct ublksrv_ctrl_dev_info, owner_uid);
	FIELD(UblksrvCtrlDevInfo, OWNER_GID, struct ublksrv_ctrl_dev_info, owner_gid);
	FIELD(UblksrvCtrlDevInfo, RESERVED1, struct ublksrv_ctrl_dev_info, reserved1);
	FIELD(UblksrvCtrlDevInfo, RESERVED2, struct ublksrv_ctrl_dev_info, reserved2);

	SIZE(UblksrvIoDesc, struct ublksrv_io_desc);
	FIELD(UblksrvIoDesc, OP_FLAGS, struct ublksrv_io_desc, op_flags);
	FIELD(UblksrvIoDesc, NR_SECTORS, struct ublksrv_io_desc, nr_sectors);
	FIELD(UblksrvIoDesc, NR_ZONES, struct ublksrv_io_desc, nr_zones);
	FIELD(UblksrvIoDesc, START_SECTOR, struct ublksrv_io_desc, start_sector);
	FIELD(UblksrvIoDesc, ADDR, struct ublksrv_io_desc, addr);

	SIZE(UblksrvIoCmd, struct ublksrv_io_cmd);
	FIELD(UblksrvIoCmd, Q_ID, struct ublksrv_io_cmd, q_id);
	FIELD(UblksrvIoCmd, TAG, struct ublksrv_io_cmd, tag);
	FIELD(UblksrvIoCmd, RESULT, struct ublksrv_io_cmd, result);
	FIELD(UblksrvIoCmd, ADDR, struct ublksrv_io_cmd, addr);
	FIELD(UblksrvIoCmd, ZONE_APPEND_LBA, struct ublksrv_io_cmd, zone_append_lba);

	SIZE(UblkParamBasic, struct ublk_param_basic);
	FIELD(UblkParamBasic, ATTRS, struct ublk_param_basic, attrs);
	FIELD(UblkParamBasic, LOGICAL_BS_SHIFT, struct ublk_param_basic, logical_bs_shift);
	FIELD(UblkParamBasic, PHYSICAL_BS_SHIFT, struct ublk_param_basic, physical_bs_shift);
	FIELD(UblkParamBasic, IO_OPT_SHIFT, struct ublk_param_basic, io_opt_shift);
	FIELD(UblkParamBasic, IO_MIN_SHIFT, struct ublk_param_basic, io_min_shift);
	FIELD(UblkParamBasic, MAX_SECTORS, struct ublk_param_basic, max_sectors);
	FIELD(UblkParamBasic, CHUNK_SECTORS, struct ublk_param_basic, chunk_sectors);
	FIELD(UblkParamBasic, DEV_SECTORS, struct ublk_param_basic, dev_sectors);
	FIELD(UblkParamBasic, VIRT_BOUNDARY_MASK, struct ublk_param_basic, virt_boundary_mask);

	SIZE(UblkParamDiscard, struct ublk_param_discard);
	FIELD(UblkParamDiscard, DISCARD_ALIGNMENT, struct ublk_param_discard, discard_alignment);
	FIELD(UblkParamDiscard, DISCARD_GRANULARITY, struct ublk_param_discard, discard_granularity);
	FIELD(UblkParamDiscard, MAX_DISCARD_SECTORS, struct ublk_param_discard, max_discard_sectors);
	FIELD(UblkParamDiscard, MAX_WRITE_ZEROES_SECTORS, struct ublk_param_discard, max_write_zeroes_sectors);
	FIELD(UblkParamDiscard, MAX_DISCARD_SEGMENTS, struct ublk_param_discard, max_discard_segments);
	FIELD(UblkParamDiscard, RESERVED0, struct ublk_param_discard, reserved0);

	SIZE(UblkParamDevt, struct ublk_param_devt);
	FIELD(UblkParamDevt, CHAR_MAJOR, struct ublk_param_devt, char_major);
	FIELD(UblkParamDevt, CHAR_MINOR, struct ublk_param_devt, char_minor);
	FIELD(UblkParamDevt, DISK_MAJOR, struct ublk_param_devt, disk_major);
	FIELD(UblkParamDevt, DISK_MINOR, struct ublk_param_devt, disk_minor);

	SIZE(UblkParamZoned, struct ublk_param_zoned);
	FIELD(UblkParamZoned, MAX_OPEN_ZONES, struct ublk_param_zoned, max_open_zones);
	FIELD(UblkParamZoned, MAX_ACTIVE_ZONES, struct ublk_param_zoned, max_active_zones);
	FIELD(UblkParamZoned, MAX_ZONE_APPEND_SECTORS, struct ublk_param_zoned, max_zone_append_sectors);
	OFFSET(UblkParamZoned, RESERVED, struct ublk_param_zoned, reserved);

	SIZE(UblkParams, struct ublk_params);
	FIELD(UblkParams, LEN, struct ublk_params, len);
	FIELD(UblkParams, TYPES, struct ublk_params, types);
	OFFSET(UblkParams, BASIC, struct ublk_params, basic);
	OFFSET(UblkParams, DISCARD, struct ublk_params, discard);
	OFFSET(UblkParams, DEVT, struct ublk_params, devt);
	OFFSET(UblkParams, ZONED, struct ublk_params, zoned);

	CONST(UblkCtrlCmd, GET_QUEUE_AFFINITY, UBLK_U_CMD_GET_QUEUE_AFFINITY);
	CONST(UblkCtrlCmd, GET_DEV_INFO, UBLK_U_CMD_GET_DEV_INFO);
	CONST(UblkCtrlCmd, ADD_DEV, UBLK_U_CMD_ADD_DEV);
	CONST(UblkCtrlCmd, DEL_DEV, UBLK_U_CMD_DEL_DEV);
	CONST(UblkCtrlCmd, START_DEV, UBLK_U_CMD_START_DEV);
	CONST(UblkCtrlCmd, STOP_DEV, UBLK_U_CMD_STOP_DEV);
	CONST(UblkCtrlCmd, SET_PARAMS, UBLK_U_CMD_SET_PARAMS);
	CONST(UblkCtrlCmd, GET_PARAMS, UBLK_U_CMD_GET_PARAMS);
	CONST(UblkCtrlCmd, START_USER_RECOVERY, UBLK_U_CMD_START_USER_RECOVERY);
	CONST(UblkCtrlCmd, END_USER_RECOVERY, UBLK_U_CMD_END_USER_RECOVERY);
	CONST(UblkCtrlCmd, GET_DEV_INFO2, UBLK_U_CMD_GET_DEV_INFO2);
	CONST(UblkCtrlCmd, GET_FEATURES, UBLK_U_CMD_GET_FEATURES);
	CONST(UblkCtrlCmd, DEL_DEV_ASYNC, UBLK_U_CMD_DEL_DEV_ASYNC);
	CONST(UblkCtrlCmd, FEATURES_LEN, UBLK_FEATURES_LEN);

	CONST(UblkIoCmd, FETCH_REQ, UBLK_U_IO_FETCH_REQ);
	CONST(UblkIoCmd, COMMIT_AND_FETCH_REQ, UBLK_U_IO_COMMIT_AND_FETCH_REQ);
	CONST(UblkIoCmd, NEED_GET_DATA, UBLK_U_IO_NEED_GET_DATA);

	CONST(UblkFeatures, SUPPORT_ZERO_COPY, UBLK_F_SUPPORT_ZERO_COPY);
	CONST(UblkFeatures, URING_CMD_COMP_IN_TASK, UBLK_F_URING_CMD_COMP_IN_TASK);
	CONST(UblkFeatures, NEED_GET_DATA, UBLK_F_NEED_GET_DATA);
	CONST(UblkFeatures, USER_RECOVERY, UBLK_F_USER_RECOVERY);
	CONST(UblkFeatures, USER_RECOVERY_REISSUE, UBLK_F_USER_RECOVERY_REISSUE);
	CONST(UblkFeatures, UNPRIVILEGED_DEV, UBLK_F_UNPRIVILEGED_DEV);
	CONST(UblkFeatures, CMD_IOCTL_ENCODE, UBLK_F_CMD_IOCTL_ENCODE);
	CONST(UblkFeatures, USER_COPY, UBLK_F_USER_COPY);
	CONST(UblkFeatures, ZONED, UBLK_F_ZONED);

	CONST(UblkIoOp, OP_READ, UBLK_IO_OP_READ);
	CONST(UblkIoOp, OP_WRITE, UBLK_IO_OP_WRITE);
	CONST(UblkIoOp, OP_FLUSH, UBLK_IO_OP_FLUSH);
	CONST(UblkIoOp, OP_DISCARD, UBLK_IO_OP_DISCARD);
	CONST(UblkIoOp, OP_WRITE_SAME, UBLK_IO_OP_WRITE_SAME);
	CONST(UblkIoOp, OP_WRITE_ZEROES, UBLK_IO_OP_WRITE_ZEROES);
	CONST(UblkIoOp, OP_ZONE_OPEN, UBLK_IO_OP_ZONE_OPEN);
	CONST(UblkIoOp, OP_ZONE_CLOSE, UBLK_IO_OP_ZONE_CLOSE);
	CONST(UblkIoOp, OP_ZONE_FINISH, UBLK_IO_OP_ZONE_FINISH);
	CONST(UblkIoOp, OP_ZONE_APPEND, UBLK_IO_OP_ZONE_APPEND);
	CONST(UblkIoOp, OP_ZONE_RESET_ALL, UBLK_IO_OP_ZONE_RESET_ALL);
	CONST(UblkIoOp, OP_ZONE_RESET, UBLK_IO_OP_ZONE_RESET);
	CONST(UblkIoOp, OP_REPORT_ZONES, UBLK_IO_OP_REPORT_ZONES);
	CONST(UblkIoOp, F_FAILFAST_DEV, UBLK_IO_F_FAILFAST_DEV);
	CONST(UblkIoOp, F_FAILFAST_TRANSPORT, UBLK_IO_F_FAILFAST_TRANSPORT);
	CONST(UblkIoOp, F_FAILFAST_DRIVER, UBLK_IO_F_FAILFAST_DRIVER);
	CONST(UblkIoOp, F_META, UBLK_IO_F_META);
	CONST(UblkIoOp, F_FUA, UBLK_IO_F_FUA);
	CONST(UblkIoOp, F_NOUNMAP, UBLK_IO_F_NOUNMAP);
	CONST(UblkIoOp, F_SWAP, UBLK_IO_F_SWAP);
	CONST(UblkIoOp, RES_OK, UBLK_IO_RES_OK);
	CONST(UblkIoOp, RES_NEED_GET_DATA, UBLK_IO_RES_NEED_GET_DATA);
	CONST(UblkIoOp, RES_ABORT, UBLK_IO_RES_ABORT);
	SAMPLE(UblkIoOp, op, op, 0x2001);
	SAMPLE(UblkIoOp, op, op, 0xffffffff);
	SAMPLE(UblkIoOp, flags, flags, 0x2001);
	SAMPLE(UblkIoOp, flags, flags, 0xffffffff);

	CONST(UblkDevState, DEAD, UBLK_S_DEV_DEAD);
	CONST(UblkDevState, LIVE, UBLK_S_DEV_LIVE);
	CONST(UblkDevState, QUIESCED, UBLK_S_DEV_QUIESCED);

	CONST(UblkParamType, BASIC, UBLK_PARAM_TYPE_BASIC);
	CONST(UblkParamType, DISCARD, UBLK_PARAM_TYPE_DISCARD);
	CONST(UblkParamType, DEVT, UBLK_PARAM_TYPE_DEVT);
	CONST(UblkParamType, ZONED, UBLK_PARAM_TYPE_ZONED);
	CONST(UblkParamType, ATTR_READ_ONLY, UBLK_ATTR_READ_ONLY);
	CONST(UblkParamType, ATTR_ROTATIONAL, UBLK_ATTR_ROTATIONAL);
	CONST(UblkParamType, ATTR_VOLATILE_CACHE, UBLK_ATTR_VOLATILE_CACHE);
	CONST(UblkParamType, ATTR_FUA, UBLK_ATTR_FUA);

	CONST(UblkUserCopy, UBLKSRV_CMD_BUF_OFFSET, UBLKSRV_CMD_BUF_OFFSET);
	CONST(UblkUserCopy, UBLKSRV_IO_BUF_OFFSET, UBLKSRV_IO_BUF_OFFSET);
	CONST(UblkUserCopy, UBLK_MAX_QUEUE_DEPTH, UBLK_MAX_QUEUE_DEPTH);
	CONST(UblkUserCopy, UBLK_IO_BUF_OFF, UBLK_IO_BUF_OFF);
	CONST(UblkUserCopy, UBLK_IO_BUF_BITS, UBLK_IO_BUF_BITS);
	CONST(UblkUserCopy, UBLK_IO_BUF_BITS_MASK, UBLK_IO_BUF_BITS_MASK);
	CONST(UblkUserCopy, UBLK_TAG_OFF, UBLK_TAG_OFF);
	CONST(UblkUserCopy, UBLK_TAG_BITS, UBLK_TAG_BITS);
	CONST(UblkUserCopy, UBLK_TAG_BITS_MASK, UBLK_TAG_BITS_MASK);
	CONST(UblkUserCopy, UBLK_QID_OFF, UBLK_QID_OFF);
	CONST(UblkUserCopy, UBLK_QID_BITS, UBLK_QID_BITS);
	CONST(UblkUserCopy, UBLK_QID_BITS_MASK, UBLK_QID_BITS_MASK);
	CONST(UblkUserCopy, UBLK_MAX_NR_QUEUES, UBLK_MAX_NR_QUEUES);
	CONST(UblkUserCopy, UBLKSRV_IO_BUF_TOTAL_BITS, UBLKSRV_IO_BUF_TOTAL_BITS);
	CONST(UblkUserCopy, UBLKSRV_IO_BUF_TOTAL_SIZE, UBLKSRV_IO_BUF_TOTAL_SIZE);
	SAMPLE(UblkUserCopy, position, position, 0, 0, 0);
	SAMPLE(UblkUserCopy, position, position, 1, 2, 512);
	SAMPLE(UblkUserCopy, position, position, 3, 100, 4096);
	SAMPLE(UblkUserCopy, position, position, 4095, 65535, 33554431);
	SAMPLE(UblkUserCopy, queueDescriptorOffset, queue_descriptor_offset, 0, 4096);
	SAMPLE(UblkUserCopy, queueDescriptorOffset, queue_descriptor_offset, 1, 4096);
	SAMPLE(UblkUserCopy, queueDescriptorOffset, queue_descriptor_offset, 7, 16384);
	SAMPLE(UblkUserCopy, queueDescriptorOffset, queue_descriptor_offset, 3, 65536);
	SAMPLE(UblkUserCopy, queueDescriptorSize, queue_descriptor_size, 1, 4096);
	SAMPLE(UblkUserCopy, queueDescriptorSize, queue_descriptor_size, 128, 4096);
	SAMPLE(UblkUserCopy, queueDescriptorSize, queue_descriptor_size, 171, 4096);
	SAMPLE(UblkUserCopy, queueDescriptorSize, queue_descriptor_size, 4096, 65536);
	return 0;
}
