/* Probe for the io_uring uapi bindings (linux/io_uring.h, linux/time_types.h). */
#include <linux/io_uring.h>
#include <linux/time_types.h>
#include <poll.h>

#include "probe.h"

static void params(void)
{
	SIZE(IoUringParams, struct io_uring_params);
	FIELD(IoUringParams, SQ_ENTRIES, struct io_uring_params, sq_entries);
	FIELD(IoUringParams, CQ_ENTRIES, struct io_uring_params, cq_entries);
	FIELD(IoUringParams, FLAGS, struct io_uring_params, flags);
	FIELD(IoUringParams, SQ_THREAD_CPU, struct io_uring_params, sq_thread_cpu);
	FIELD(IoUringParams, SQ_THREAD_IDLE, struct io_uring_params, sq_thread_idle);
	FIELD(IoUringParams, FEATURES, struct io_uring_params, features);
	FIELD(IoUringParams, WQ_FD, struct io_uring_params, wq_fd);
	OFFSET(IoUringParams, RESV, struct io_uring_params, resv);
	OFFSET(IoUringParams, SQ_OFF, struct io_uring_params, sq_off);
	OFFSET(IoUringParams, CQ_OFF, struct io_uring_params, cq_off);

	SIZE(IoSqringOffsets, struct io_sqring_offsets);
	OFFSET(IoSqringOffsets, HEAD, struct io_sqring_offsets, head);
	OFFSET(IoSqringOffsets, TAIL, struct io_sqring_offsets, tail);
	OFFSET(IoSqringOffsets, RING_MASK, struct io_sqring_offsets, ring_mask);
	OFFSET(IoSqringOffsets, RING_ENTRIES, struct io_sqring_offsets, ring_entries);
	OFFSET(IoSqringOffsets, FLAGS, struct io_sqring_offsets, flags);
	OFFSET(IoSqringOffsets, DROPPED, struct io_sqring_offsets, dropped);
	OFFSET(IoSqringOffsets, ARRAY, struct io_sqring_offsets, array);
	OFFSET(IoSqringOffsets, USER_ADDR, struct io_sqring_offsets, user_addr);

	SIZE(IoCqringOffsets, struct io_cqring_offsets);
	OFFSET(IoCqringOffsets, HEAD, struct io_cqring_offsets, head);
	OFFSET(IoCqringOffsets, TAIL, struct io_cqring_offsets, tail);
	OFFSET(IoCqringOffsets, RING_MASK, struct io_cqring_offsets, ring_mask);
	OFFSET(IoCqringOffsets, RING_ENTRIES, struct io_cqring_offsets, ring_entries);
	OFFSET(IoCqringOffsets, OVERFLOW, struct io_cqring_offsets, overflow);
	OFFSET(IoCqringOffsets, CQES, struct io_cqring_offsets, cqes);
	OFFSET(IoCqringOffsets, FLAGS, struct io_cqring_offsets, flags);
	OFFSET(IoCqringOffsets, USER_ADDR, struct io_cqring_offsets, user_addr);
}

static void entries(void)
{
	SIZE(IoUringSqe, struct io_uring_sqe);
	CONST(IoUringSqe, SIZE_128, 2 * sizeof(struct io_uring_sqe));
	FIELD(IoUringSqe, OPCODE, struct io_uring_sqe, opcode);
	FIELD(IoUringSqe, FLAGS, struct io_uring_sqe, flags);
	FIELD(IoUringSqe, IOPRIO, struct io_uring_sqe, ioprio);
	FIELD(IoUringSqe, FD, struct io_uring_sqe, fd);
	FIELD(IoUringSqe, OFF, struct io_uring_sqe, off);
	FIELD(IoUringSqe, ADDR, struct io_uring_sqe, addr);
	FIELD(IoUringSqe, LEN, struct io_uring_sqe, len);
	FIELD(IoUringSqe, OP_FLAGS, struct io_uring_sqe, rw_flags);
	FIELD(IoUringSqe, USER_DATA, struct io_uring_sqe, user_data);
	FIELD(IoUringSqe, BUF_INDEX, struct io_uring_sqe, buf_index);
	FIELD(IoUringSqe, PERSONALITY, struct io_uring_sqe, personality);
	FIELD(IoUringSqe, SPLICE_FD_IN, struct io_uring_sqe, splice_fd_in);
	FIELD(IoUringSqe, ADDR3, struct io_uring_sqe, addr3);
	/* Union aliases: each must sit where the Java alias says. */
	OFFSET(IoUringSqe, CMD_OP, struct io_uring_sqe, cmd_op);
	OFFSET(IoUringSqe, CMD, struct io_uring_sqe, cmd);
	OFFSET(IoUringSqe, RW_FLAGS, struct io_uring_sqe, rw_flags);
	OFFSET(IoUringSqe, POLL32_EVENTS, struct io_uring_sqe, poll32_events);
	OFFSET(IoUringSqe, URING_CMD_FLAGS, struct io_uring_sqe, uring_cmd_flags);
	OFFSET(IoUringSqe, MSG_RING_FLAGS, struct io_uring_sqe, msg_ring_flags);

	SIZE(IoUringCqe, struct io_uring_cqe);
	CONST(IoUringCqe, SIZE_32, 2 * sizeof(struct io_uring_cqe));
	FIELD(IoUringCqe, USER_DATA, struct io_uring_cqe, user_data);
	FIELD(IoUringCqe, RES, struct io_uring_cqe, res);
	FIELD(IoUringCqe, FLAGS, struct io_uring_cqe, flags);
	OFFSET(IoUringCqe, BIG_CQE, struct io_uring_cqe, big_cqe);

	SIZE(IoUringGeteventsArg, struct io_uring_getevents_arg);
	FIELD(IoUringGeteventsArg, SIGMASK, struct io_uring_getevents_arg, sigmask);
	FIELD(IoUringGeteventsArg, SIGMASK_SZ, struct io_uring_getevents_arg, sigmask_sz);
	FIELD(IoUringGeteventsArg, MIN_WAIT_USEC, struct io_uring_getevents_arg, min_wait_usec);
	FIELD(IoUringGeteventsArg, TS, struct io_uring_getevents_arg, ts);

	SIZE(KernelTimespec, struct __kernel_timespec);
	FIELD(KernelTimespec, TV_SEC, struct __kernel_timespec, tv_sec);
	FIELD(KernelTimespec, TV_NSEC, struct __kernel_timespec, tv_nsec);
}

static void constants(void)
{
	CONST(IoUringOp, NOP, IORING_OP_NOP);
	CONST(IoUringOp, READV, IORING_OP_READV);
	CONST(IoUringOp, WRITEV, IORING_OP_WRITEV);
	CONST(IoUringOp, FSYNC, IORING_OP_FSYNC);
	CONST(IoUringOp, POLL_ADD, IORING_OP_POLL_ADD);
	CONST(IoUringOp, POLL_REMOVE, IORING_OP_POLL_REMOVE);
	CONST(IoUringOp, TIMEOUT, IORING_OP_TIMEOUT);
	CONST(IoUringOp, ASYNC_CANCEL, IORING_OP_ASYNC_CANCEL);
	CONST(IoUringOp, READ, IORING_OP_READ);
	CONST(IoUringOp, WRITE, IORING_OP_WRITE);
	CONST(IoUringOp, MSG_RING, IORING_OP_MSG_RING);
	CONST(IoUringOp, URING_CMD, IORING_OP_URING_CMD);

	CONST(IoUringSetup, IOPOLL, IORING_SETUP_IOPOLL);
	CONST(IoUringSetup, SQPOLL, IORING_SETUP_SQPOLL);
	CONST(IoUringSetup, CQSIZE, IORING_SETUP_CQSIZE);
	CONST(IoUringSetup, CLAMP, IORING_SETUP_CLAMP);
	CONST(IoUringSetup, R_DISABLED, IORING_SETUP_R_DISABLED);
	CONST(IoUringSetup, SUBMIT_ALL, IORING_SETUP_SUBMIT_ALL);
	CONST(IoUringSetup, COOP_TASKRUN, IORING_SETUP_COOP_TASKRUN);
	CONST(IoUringSetup, TASKRUN_FLAG, IORING_SETUP_TASKRUN_FLAG);
	CONST(IoUringSetup, SQE128, IORING_SETUP_SQE128);
	CONST(IoUringSetup, CQE32, IORING_SETUP_CQE32);
	CONST(IoUringSetup, SINGLE_ISSUER, IORING_SETUP_SINGLE_ISSUER);
	CONST(IoUringSetup, DEFER_TASKRUN, IORING_SETUP_DEFER_TASKRUN);
	CONST(IoUringSetup, FEAT_SINGLE_MMAP, IORING_FEAT_SINGLE_MMAP);
	CONST(IoUringSetup, FEAT_NODROP, IORING_FEAT_NODROP);
	CONST(IoUringSetup, FEAT_SUBMIT_STABLE, IORING_FEAT_SUBMIT_STABLE);
	CONST(IoUringSetup, FEAT_FAST_POLL, IORING_FEAT_FAST_POLL);
	CONST(IoUringSetup, FEAT_EXT_ARG, IORING_FEAT_EXT_ARG);
	CONST(IoUringSetup, FEAT_NATIVE_WORKERS, IORING_FEAT_NATIVE_WORKERS);
	CONST(IoUringSetup, FEAT_CQE_SKIP, IORING_FEAT_CQE_SKIP);

	CONST(IoUringEnter, GETEVENTS, IORING_ENTER_GETEVENTS);
	CONST(IoUringEnter, SQ_WAKEUP, IORING_ENTER_SQ_WAKEUP);
	CONST(IoUringEnter, SQ_WAIT, IORING_ENTER_SQ_WAIT);
	CONST(IoUringEnter, EXT_ARG, IORING_ENTER_EXT_ARG);

	CONST(IoUringRing, OFF_SQ_RING, IORING_OFF_SQ_RING);
	CONST(IoUringRing, OFF_CQ_RING, IORING_OFF_CQ_RING);
	CONST(IoUringRing, OFF_SQES, IORING_OFF_SQES);
	CONST(IoUringRing, SQ_NEED_WAKEUP, IORING_SQ_NEED_WAKEUP);
	CONST(IoUringRing, SQ_CQ_OVERFLOW, IORING_SQ_CQ_OVERFLOW);
	CONST(IoUringRing, SQ_TASKRUN, IORING_SQ_TASKRUN);
	CONST(IoUringRing, CQ_EVENTFD_DISABLED, IORING_CQ_EVENTFD_DISABLED);
	CONST(IoUringRing, IOSQE_FIXED_FILE, IOSQE_FIXED_FILE);
	CONST(IoUringRing, IOSQE_IO_DRAIN, IOSQE_IO_DRAIN);
	CONST(IoUringRing, IOSQE_IO_LINK, IOSQE_IO_LINK);
	CONST(IoUringRing, IOSQE_IO_HARDLINK, IOSQE_IO_HARDLINK);
	CONST(IoUringRing, IOSQE_ASYNC, IOSQE_ASYNC);
	CONST(IoUringRing, IOSQE_CQE_SKIP_SUCCESS, IOSQE_CQE_SKIP_SUCCESS);
	CONST(IoUringRing, CQE_F_MORE, IORING_CQE_F_MORE);
	CONST(IoUringRing, POLL_ADD_MULTI, IORING_POLL_ADD_MULTI);
	CONST(IoUringRing, POLLIN, POLLIN);
	CONST(IoUringRing, MSG_DATA, IORING_MSG_DATA);
	CONST(IoUringRing, MSG_RING_CQE_SKIP, IORING_MSG_RING_CQE_SKIP);
}

int main(void)
{
	params();
	entries();
	constants();
	return 0;
}
