/*
 * Print macros shared by the layout probes. Each probe_*.c is a self-contained program that prints
 * one "Key value" line per Java binding it checks; LayoutProbeTest compiles and runs every *.c
 * here and compares the lines with the Java classes of io.ublk.headers.
 *
 * Keys:
 *   Class.FIELD            a public static final integral field (SIZE, *_OFFSET, constants)
 *   Class.HANDLE.bytes     width in bytes of the value a public static final VarHandle reads
 *   Class.method(a,b,...)  a static method's result for integer arguments (header macros,
 *                          inline functions and kernel formulas recomputed in Java)
 * Values are decimal; negative values print signed, others unsigned (a Java int field matches a
 * C value with the same 32-bit pattern, so 0xC0207504 prints 3223352580 and matches int ADD_DEV).
 */
#ifndef UBLK_PROBE_H
#define UBLK_PROBE_H

#include <stddef.h>
#include <stdio.h>

/* Any integer expression, signedness preserved. */
#define PROBE_VALUE(key, v)                                                   \
	do {                                                                  \
		if ((v) < 0)                                                  \
			printf("%s %lld\n", (key), (long long)(v));           \
		else                                                          \
			printf("%s %llu\n", (key), (unsigned long long)(v));  \
	} while (0)

/* Cls.NAME = value (a constant). */
#define CONST(cls, NAME, value) PROBE_VALUE(#cls "." #NAME, (value))

/* Cls.SIZE = sizeof(type). */
#define SIZE(cls, type) PROBE_VALUE(#cls ".SIZE", sizeof(type))

/* Cls.NAME_OFFSET = offsetof(type, member), for members without a var handle (arrays, structs). */
#define OFFSET(cls, NAME, type, member) PROBE_VALUE(#cls "." #NAME "_OFFSET", offsetof(type, member))

/* Cls.NAME_OFFSET and Cls.NAME.bytes for a scalar member with a var handle. */
#define FIELD(cls, NAME, type, member)                                        \
	do {                                                                  \
		OFFSET(cls, NAME, type, member);                              \
		PROBE_VALUE(#cls "." #NAME ".bytes", sizeof(((type *)0)->member)); \
	} while (0)

/* Cls.NAME.bytes for a var handle on an array element (lvalue expression on a (type *)0). */
#define HANDLE_BYTES(cls, NAME, expr) PROBE_VALUE(#cls "." #NAME ".bytes", sizeof(expr))

/*
 * Cls.method(args) = cfunc(args): a sample of a Java method against the C computation. The args
 * must be integer literals (decimal or 0x hex): they are printed as written and parsed by the test.
 */
#define SAMPLE(cls, method, cfunc, ...) PROBE_VALUE(#cls "." #method "(" #__VA_ARGS__ ")", cfunc(__VA_ARGS__))

#endif
