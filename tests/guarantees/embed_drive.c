/*
 * embed_drive.c — a program that embeds the digits model, valid both as
 * C11 and as C++11 (check_embed.py builds it either way): a few training
 * steps by Z-IL and by BP must give the same parameters bit for bit,
 * and the parameters must round-trip through P_save_mem / P_load_mem in
 * a buffer of DIGITS_CKPT_BYTES.  Exits 0 when all holds.
 */
#include <stdio.h>
#include <string.h>

#include "digits.h"

static digits_params zil, bp, back;
static digits_state s_zil, s_bp;
static unsigned char buf[DIGITS_CKPT_BYTES];

static int
check(int cond, const char *what)
{
	if (!cond)
		fprintf(stderr, "embed_drive: %s\n", what);
	return !cond;
}

int
main(void)
{
	int bad = 0;

	digits_init(&zil, 1);
	memcpy(&bp, &zil, sizeof bp);
	for (int b = 0; b < DIGITS_BATCH; b++) {
		for (int i = 0; i < 64; i++)
			s_zil.in.x[b][i] = (digits_real)((i + b) % 9 - 4) / 4;
		s_zil.target.y[b][(b + 3) % 10] = 1;
	}
	memcpy(&s_bp, &s_zil, sizeof s_bp);
	for (int step = 0; step < 3; step++) {
		digits_train_zil(&zil, &s_zil, (digits_real)0.1);
		digits_train_bp(&bp, &s_bp, (digits_real)0.1);
	}
	bad += check(memcmp(&zil, &bp, sizeof zil) == 0,
		     "P_train_zil and P_train_bp differ");

	size_t n = digits_save_mem(&zil, buf, sizeof buf);
	bad += check(n == sizeof buf &&
			     n == pcg_ckpt_bytes("digits", digits_param_info,
						 DIGITS_NUM_PARAMS,
						 (int)sizeof(digits_real), 0),
		     "P_save_mem wrote another size than DIGITS_CKPT_BYTES");
	bad += check(digits_load_mem(&back, buf, n) == PCG_CKPT_OK &&
			     memcmp(&back, &zil, sizeof back) == 0,
		     "P_load_mem does not give back the parameters");
	buf[n / 2] ^= 1;
	bad += check(digits_load_mem(&back, buf, n) == PCG_CKPT_ECORRUPT,
		     "P_load_mem took a corrupt buffer");
	return bad ? 1 : 0;
}
