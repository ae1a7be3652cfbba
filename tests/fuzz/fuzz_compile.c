/*
 * fuzz_compile.c — libFuzzer target: the whole compiler, in memory.
 *
 * Takes any bytes as a .pcg source and runs the pipeline of main.c on
 * them — pcc_compile (parse, sema, level, the --batch check), DOT, emit — with the
 * diagnostics going to /dev/null.  A few bits of a hash of the input choose
 * the options (granularity, scalar type, batch) so that each input always
 * runs the same way.  Anything but a clean return is a bug: a sanitizer
 * report, a die() (exit status 70, an internal error), a timeout, or
 * running out of memory.
 *
 * Models are limited to FUZZ_MAX_NODES operations after unrolling, not
 * pcc's 200 000: the time and the C pcc writes grow linearly with them
 * (bench/compile_scale.sh), about 4 s natively and ten times that
 * instrumented for a loop of 50 000 steps, past the fuzzer's timeout;
 * larger models are refused with the same error path as pcc's limit, so
 * the fuzzer still explores it (regress/compile/loop_50000.pcg).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pcc.h"

enum { FUZZ_MAX_NODES = 10000 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	if (!sink && !(sink = fopen("/dev/null", "w")))
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	if (size)
		memcpy(text, data, size);
	text[size] = 0;
	uint64_t h = util_hash(data, size, 0);
	int granularity_op = (h >> 7) & 1;
	int batch = (h >> 9) & 1 ? 3 : 1;
	const char *real = (h >> 11) & 1 ? "double" : "float";

	Source src = {"fuzz.pcg", text, size};
	Diag diag;
	diag_begin(&diag, &src, sink);
	Arena arena;
	arena_init(&arena);
	CompileOptions co = {.granularity_op = granularity_op,
			     .level = LEVEL_ON,
			     .batch = batch,
			     .max_nodes = FUZZ_MAX_NODES};
	Graph *g = pcc_compile(&arena, &diag, &co);
	if (g) {
		level_dot(sink, g);
		EmitOptions eo = {
			.prefix = g->name,
			.real = real,
			.batch = batch,
			.source_name = "fuzz.pcg",
			.header_name = "fuzz.h",
		};
		StrBuf hs = {0}, cs = {0};
		emit_model(&arena, g, &eo, &hs, &cs);
		sb_free(&hs);
		sb_free(&cs);
	}
	diag_end(&diag);
	arena_free(&arena);
	free(text);
	return 0;
}
