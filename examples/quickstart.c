/*
 * quickstart.c — the smallest complete program around a generated model.
 *
 * digits.h / digits.c come from `pcc examples/digits.pcg` (meson runs it
 * at build time).  We train the 64-32-10 perceptron for a few steps on a
 * fixed batch of made-up 8x8 "images", by backpropagation and by Z-IL from
 * the same start, and print the loss and how far apart the two are.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "digits.h"

static digits_params bp, zil; /* static: no large arrays on the stack */
static digits_state s1, s2;

int
main(void)
{
	digits_init(&bp, 1);
	memcpy(&zil, &bp, sizeof zil);

	/* a batch: pixel b*7+i of sample b lit, class b */
	for (int b = 0; b < DIGITS_BATCH; b++) {
		for (int i = 0; i < 64; i++)
			s1.in.x[b][i] = (float)((i * 7 + b * 13) % 17) / 16.0f;
		for (int k = 0; k < 10; k++)
			s1.target.y[b][k] = k == b % 10 ? 1.0f : 0.0f;
	}
	memcpy(&s2, &s1, sizeof s2);

	for (int step = 0; step <= 50; step++) {
		float loss = digits_train_bp(&bp, &s1, 0.1f);
		digits_train_zil(&zil, &s2, 0.1f);
		float diff = 0;
		const float *a = (const float *)&bp, *z = (const float *)&zil;
		for (int i = 0; i < DIGITS_NUM_REALS; i++)
			diff = fmaxf(diff, fabsf(a[i] - z[i]));
		if (step % 10 == 0)
			printf("step %2d  loss %.6f  max |theta_bp - theta_zil| "
			       "%g\n",
			       step, (double)loss, (double)diff);
	}
	return 0;
}
