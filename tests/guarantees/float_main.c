/*
 * float_main.c — the smallest program that uses every part of a model a
 * float build links: P_init, P_forward, P_predict, the three trainers,
 * the three optimizer steps (Adam) and the memory checkpoints.
 * check_float.py links it with the digits model and the runtime for a
 * Cortex-M4F and looks for double arithmetic in the result.  It prints
 * nothing (printf would bring in double formatting); its exit status
 * says whether the checkpoint round trip worked.
 */
#include <string.h>

#include "digits.h"

static digits_params p, back;
static digits_state s;
static digits_opt o;
static unsigned char buf[DIGITS_CKPT_BYTES];

int
main(void)
{
	pcg_optim adam = {PCG_ADAM, 1e-3, 0, 0.9, 0.999, 1e-8, 0};
	digits_real loss = 0;

	digits_init(&p, 1);
	for (int i = 0; i < 64; i++)
		s.in.x[0][i] = (digits_real)(i % 9 - 4) / 4;
	s.target.y[0][3] = 1;
	loss += digits_forward(&p, &s);
	loss += digits_predict(&p, &s);
	loss += digits_train_bp(&p, &s, (digits_real)0.1);
	loss += digits_train_zil(&p, &s, (digits_real)0.1);
	loss += digits_train_pc(&p, &s, (digits_real)0.1, 8, (digits_real)0.1);
	loss += digits_step_bp(&p, &o, &s, &adam);
	loss += digits_step_zil(&p, &o, &s, &adam);
	loss += digits_step_pc(&p, &o, &s, &adam, 8, (digits_real)0.1);

	size_t n = digits_save_mem(&p, buf, sizeof buf);

	if (n == 0 || digits_load_mem(&back, buf, n) != PCG_CKPT_OK)
		return 1;
	return loss > 0 && memcmp(&p, &back, sizeof p) == 0 ? 0 : 2;
}
