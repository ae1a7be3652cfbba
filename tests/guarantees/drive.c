/*
 * drive.c — runs every generated function of a model once, for
 * check_cc.py.  The model is compiled with --prefix m; MODEL_H names its
 * header.  Inputs and targets are filled with values in [0, 1), integer
 * ids with values in range (the info tables say which members are ids).
 */
#include <stdio.h>
#include <stdlib.h>

#include MODEL_H

static void
fill(m_state *s, const pcg_param_info *info, int n, unsigned *seed)
{
	for (int k = 0; k < n; k++) {
		char *base = (char *)s + info[k].byte_offset;
		for (size_t i = 0; i < M_BATCH * info[k].count; i++) {
			*seed = *seed * 1103515245u + 12345u;
			unsigned r = (*seed >> 8) % 1000;
			if (info[k].bound)
				((int32_t *)base)[i] = (int32_t)(r % (unsigned)info[k].bound);
			else
				((m_real *)base)[i] = (m_real)r / 1000;
		}
	}
}

int
main(void)
{
	m_params *p = calloc(1, sizeof *p), *g = calloc(1, sizeof *g);
	m_state *s = calloc(1, sizeof *s);
	unsigned seed = 1;
	if (!p || !g || !s)
		return 1;
	m_init(p, 42);
	fill(s, m_input_info, M_NUM_INPUTS, &seed);
	fill(s, m_target_info, M_NUM_TARGETS, &seed);
	m_real l = m_forward(p, s);
	l += m_grad_bp(p, s, g);
	l += m_grad_zil(p, s, g);
	l += m_grad_zil_dynamics(p, s, g);
	l += m_grad_pc(p, s, g, 3, (m_real)0.1);
	l += m_energy(p, s);
	m_sgd(p, g, (m_real)0.01);
	l += m_train_bp(p, s, (m_real)0.01);
	l += m_train_zil(p, s, (m_real)0.01);
	l += m_train_pc(p, s, (m_real)0.01, 3, (m_real)0.1);
	printf("%g\n", (double)l);
	free(p);
	free(g);
	free(s);
	return l == l ? 0 : 1; /* NaN: something is wrong */
}
