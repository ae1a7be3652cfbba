/*
 * drive.c — runs every generated function of a model once, for
 * check_cc.py.  The model is compiled with --prefix m; MODEL_H names its
 * header.  Inputs and targets are filled with values in [0, 1).
 */
#include <stdio.h>
#include <stdlib.h>

#include MODEL_H

static void
fill(m_real *x, size_t n, unsigned *seed)
{
	for (size_t i = 0; i < n; i++) {
		*seed = *seed * 1103515245u + 12345u;
		x[i] = (m_real)((*seed >> 8) % 1000) / 1000;
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
	fill((m_real *)&s->in, sizeof s->in / sizeof(m_real), &seed);
	fill((m_real *)&s->target, sizeof s->target / sizeof(m_real), &seed);
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
