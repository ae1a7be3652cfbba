/*
 * firmware.c — on-device training of examples/digits.pcg on a Cortex-M4F.
 *
 * Trains the 64-32-10 perceptron with Z-IL (digits_train_zil, plain SGD)
 * on the UCI digits held in flash (digits_data.h, from gen_data.py), then
 * reports the test accuracy, an FNV-1a hash of the parameters' bytes, a
 * checkpoint round trip through a RAM buffer (digits_save_mem,
 * digits_load_mem) and the stack's high-water mark, and exits with status
 * 0 when the round trip is exact and damaged checkpoints are refused.
 *
 * The schedule is examples/trainer's (`trainer --methods zil --batch B
 * --seed 1 --lr 0.1`): digits_init with the seed, every epoch a splitmix64
 * shuffle of the training set from (seed, epoch), batches of DIGITS_BATCH
 * samples with the last one short, pixels / 16 and one-hot targets.
 *
 * Built with pcc's generated digits.c/.h (any --batch) and the runtime
 * compiled with -DPCG_NO_FILES; the same file builds for a host with
 * host_shim.c in place of startup.c.  Compile-time settings:
 *
 *   FW_EPOCHS   epochs (default 10)
 *   FW_SEED     seed of the initialisation and the shuffles (default 1)
 *   FW_LR       learning rate (default 0.1f)
 *   FW_CONTROL  negative controls of the checks this program makes:
 *               1 damages the parameters loaded back (the round trip must
 *               then be reported inexact), 2 leaves the "corrupted"
 *               checkpoint intact (it must then be reported accepted);
 *               both make the program fail
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "digits.h"
#include "digits_data.h"
#include "m4f.h"

#ifndef FW_EPOCHS
#define FW_EPOCHS 10
#endif
#ifndef FW_SEED
#define FW_SEED 1
#endif
#ifndef FW_LR
#define FW_LR 0.1f
#endif
#ifndef FW_CONTROL
#define FW_CONTROL 0
#endif

/* Static storage: the structs are large for a stack (docs/embedded.md). */
static digits_params params, loaded;
static digits_state state;
static unsigned char ckpt[DIGITS_CKPT_BYTES], damaged[DIGITS_CKPT_BYTES];
static uint16_t order[DIGITS_DATA_TRAIN];

/* a permutation of 0..n-1 from (seed, epoch), as examples/trainer draws it */
static void
shuffle(uint16_t *o, int n, uint64_t seed, uint64_t epoch)
{
	uint64_t s = seed * 0x9E3779B97F4A7C15u + epoch;
	for (int i = 0; i < n; i++)
		o[i] = (uint16_t)i;
	for (int i = n - 1; i > 0; i--) {
		uint64_t z = (s += 0x9E3779B97F4A7C15u); /* splitmix64 */
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
		z ^= z >> 31;
		int j = (int)(z % (uint64_t)(i + 1));
		uint16_t t = o[i];
		o[i] = o[j];
		o[j] = t;
	}
}

/* sample i of x into batch row b of the state, with its one-hot target */
static void
put_sample(int b, const uint8_t *x, int label)
{
	for (int j = 0; j < 64; j++)
		state.in.x[b][j] = (float)x[j] / 16.0f;
	for (int k = 0; k < 10; k++)
		state.target.y[b][k] = k == label ? 1.0f : 0.0f;
}

/* correct predictions on the test set (digits_predict, batch by batch) */
static int
test_correct(const digits_params *p)
{
	int right = 0;
	for (int at = 0; at < DIGITS_DATA_TEST; at += DIGITS_BATCH) {
		int count = DIGITS_DATA_TEST - at < DIGITS_BATCH
				    ? DIGITS_DATA_TEST - at
				    : DIGITS_BATCH;
		for (int b = 0; b < count; b++)
			put_sample(b, digits_test_x[at + b],
				   digits_test_label[at + b]);
		state.n = count;
		digits_predict(p, &state);
		for (int b = 0; b < count; b++) {
			int best = 0;
			for (int k = 1; k < 10; k++)
				if (state.out.o[b][k] > state.out.o[b][best])
					best = k;
			right += best == digits_test_label[at + b];
		}
	}
	return right;
}

/* one epoch of Z-IL: the mean training loss */
static double
train_epoch(int epoch)
{
	double loss = 0;
	shuffle(order, DIGITS_DATA_TRAIN, FW_SEED, (uint64_t)epoch);
	for (int at = 0; at < DIGITS_DATA_TRAIN; at += DIGITS_BATCH) {
		int count = DIGITS_DATA_TRAIN - at < DIGITS_BATCH
				    ? DIGITS_DATA_TRAIN - at
				    : DIGITS_BATCH;
		for (int b = 0; b < count; b++)
			put_sample(b, digits_train_x[order[at + b]],
				   digits_train_label[order[at + b]]);
		state.n = count;
		/* the batch's mean loss, weighted by its samples */
		loss += (double)digits_train_zil(&params, &state, FW_LR) * count;
	}
	return loss / DIGITS_DATA_TRAIN;
}

/* 64-bit FNV-1a of n bytes */
static uint64_t
fnv1a(const void *data, size_t n)
{
	const unsigned char *b = data;
	uint64_t h = 0xcbf29ce484222325u;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3u;
	}
	return h;
}

int
main(void)
{
	int failed = 0;
	printf("digits on %s: batch %d, %d training and %d test samples, "
	       "%d epochs of Z-IL (SGD, lr %g), seed %d\n",
#ifdef __ARM_ARCH
	       "a Cortex-M4F",
#else
	       "the host",
#endif
	       DIGITS_BATCH, DIGITS_DATA_TRAIN, DIGITS_DATA_TEST, FW_EPOCHS,
	       (double)FW_LR, FW_SEED);
	printf("memory: params %lu bytes, state %lu bytes, checkpoint %lu "
	       "bytes, data in flash %lu bytes\n",
	       (unsigned long)sizeof params, (unsigned long)sizeof state,
	       (unsigned long)DIGITS_CKPT_BYTES,
	       (unsigned long)(sizeof digits_train_x + sizeof digits_train_label +
			       sizeof digits_test_x + sizeof digits_test_label));

	digits_init(&params, FW_SEED);
	unsigned long t0 = m4f_clock_ms();
	uint64_t ticks0 = m4f_ticks();
	for (int epoch = 1; epoch <= FW_EPOCHS; epoch++) {
		double loss = train_epoch(epoch);
		printf("epoch %d: loss %.4f\n", epoch, loss);
	}
	unsigned long ms = m4f_clock_ms() - t0;
	uint64_t ticks = m4f_ticks() - ticks0;
	int right = test_correct(&params);
	printf("train time: %lu ms\n", ms);
	if (ticks) /* 32 bits of it: 2^32 ticks are 172 s at 25 MHz */
		printf("train ticks: %lu\n", (unsigned long)ticks);
	printf("test accuracy: %.4f (%d/%d)\n",
	       (double)right / DIGITS_DATA_TEST, right, DIGITS_DATA_TEST);
	uint64_t h = fnv1a(&params, sizeof params);
	printf("param hash: %08lx%08lx\n", (unsigned long)(h >> 32),
	       (unsigned long)(h & 0xffffffffu));

	/* the checkpoint: into RAM and back into another parameter set */
	size_t n = digits_save_mem(&params, ckpt, sizeof ckpt);
	memset(&loaded, 0xA5, sizeof loaded);
	int err = digits_load_mem(&loaded, ckpt, n);
	if (FW_CONTROL == 1)
		((unsigned char *)&loaded)[sizeof loaded / 2] ^= 1;
	int exact = n == DIGITS_CKPT_BYTES && err == 0 &&
		    !memcmp(&params, &loaded, sizeof params);
	printf("checkpoint: saved %lu bytes, load %d (%s), round trip %s\n",
	       (unsigned long)n, err, pcg_ckpt_strerror(err),
	       exact ? "exact" : "NOT EXACT");
	failed |= !exact;

	/* damaged copies must be refused, the parameters left as they were */
	memcpy(damaged, ckpt, sizeof ckpt);
	if (FW_CONTROL != 2)
		damaged[sizeof damaged / 2] ^= 0x10; /* a bit of a parameter */
	memset(&loaded, 0xA5, sizeof loaded);
	err = digits_load_mem(&loaded, damaged, sizeof damaged);
	int untouched = 1;
	for (size_t i = 0; i < sizeof loaded; i++)
		untouched &= ((unsigned char *)&loaded)[i] == 0xA5;
	printf("corrupted checkpoint: %s (error %d: %s), parameters %s\n",
	       err ? "refused" : "ACCEPTED", err, pcg_ckpt_strerror(err),
	       untouched ? "untouched" : "CHANGED");
	failed |= !err || !untouched;
	err = digits_load_mem(&loaded, ckpt, n - 1);
	printf("truncated checkpoint: %s (error %d: %s)\n",
	       err ? "refused" : "ACCEPTED", err, pcg_ckpt_strerror(err));
	failed |= !err;

	size_t used = m4f_stack_used();
	if (used)
		printf("stack: %lu of %lu bytes used\n", (unsigned long)used,
		       (unsigned long)m4f_stack_size());
	else
		printf("stack: not measured\n");
	if (m4f_heap_used())
		printf("heap: %lu bytes used\n", (unsigned long)m4f_heap_used());
	printf("result: %s\n", failed ? "FAILED" : "ok");
	return failed;
}
