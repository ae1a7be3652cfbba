/*
 * check_ids.c — integer data out of range at run time, on the generated
 * textcls model (double, batch 4): every function that reads the data
 * returns NaN and changes no parameter, gradient or state buffer, and
 * P_check_data locates the bad value (its flat index over the inputs,
 * then the targets, as tc_input_info counts).  A valid batch runs as
 * usual, which is the control: the same calls give finite results there.
 * Prints TAP.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids_textcls.h"

static int test_no, failures;

static void
ok(int cond, const char *what)
{
	test_no++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", test_no, what);
	if (!cond)
		failures++;
}

static tc_params p, g, p0, g0;
static tc_state s, s0;

static void
fill(void)
{
	for (int i = 0; i < TC_BATCH * 16; i++)
		s.in.tok[i / 16][i % 16] = (int32_t)(i * 7 % 50);
	for (int b = 0; b < TC_BATCH; b++)
		s.target.label[b] = b % 3;
}

/* every reading function on the current data: NaN and nothing changed,
 * or (valid data) finite */
static void
all_calls(int bad, const char *what)
{
	char msg[160];
	memcpy(&p0, &p, sizeof p);
	memset(&g, 0x5a, sizeof g);
	memcpy(&g0, &g, sizeof g);
	memcpy(&s0, &s, sizeof s);
	double r[9];
	r[0] = tc_forward(&p, &s);
	r[1] = tc_grad_bp(&p, &s, &g);
	r[2] = tc_grad_zil(&p, &s, &g);
	r[3] = tc_grad_zil_dynamics(&p, &s, &g);
	r[4] = tc_grad_pc(&p, &s, &g, 5, 0.1);
	r[5] = tc_pc_init(&p, &s);
	r[6] = tc_pc_step(&p, &s, 0.1);
	r[7] = tc_train_bp(&p, &s, 0.1);
	r[8] = tc_train_zil(&p, &s, 0.1);
	double r9 = tc_train_pc(&p, &s, 0.1, 5, 0.1);
	int all_nan = isnan(r9), all_finite = isfinite(r9);
	for (int i = 0; i < 9; i++) {
		all_nan &= isnan(r[i]);
		all_finite &= isfinite(r[i]);
	}
	if (bad) {
		snprintf(msg, sizeof msg, "%s: every function returns NaN", what);
		ok(all_nan, msg);
		snprintf(msg, sizeof msg, "%s: parameters, gradient and state "
			 "unchanged", what);
		ok(!memcmp(&p, &p0, sizeof p) && !memcmp(&g, &g0, sizeof g) &&
			   !memcmp(&s, &s0, sizeof s),
		   msg);
	} else {
		snprintf(msg, sizeof msg, "%s: every function returns a finite "
			 "value", what);
		ok(all_finite, msg);
		snprintf(msg, sizeof msg, "%s: training changes the parameters",
			 what);
		ok(memcmp(&p, &p0, sizeof p) != 0, msg);
	}
}

int
main(void)
{
	printf("TAP version 13\n");
	tc_init(&p, 1);
	fill();
	ok(tc_check_data(&s) == -1, "valid ids: check_data gives -1");
	all_calls(0, "valid ids");

	fill();
	s.in.tok[2][5] = 50; /* the bound */
	long at = tc_check_data(&s);
	printf("# check_data: %ld\n", at);
	ok(at == 2 * 16 + 5, "token 50 (bound 50) at sample 2, position 5: "
			     "check_data gives 37");
	all_calls(1, "token at the bound");

	fill();
	s.in.tok[0][0] = -1;
	s.in.tok[3][15] = 1000;
	ok(tc_check_data(&s) == 0, "a negative token at the start: index 0");
	all_calls(1, "negative token");

	fill();
	s.target.label[3] = 3; /* the bound */
	at = tc_check_data(&s);
	printf("# check_data: %ld\n", at);
	ok(at == TC_BATCH * 16 + 3, "label 3 (bound 3) of sample 3: the index "
				     "counts the inputs first (64 + 3)");
	all_calls(1, "label at the bound");

	printf("1..%d\n", test_no);
	return failures != 0;
}
