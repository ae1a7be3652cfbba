/*
 * emit_optim.c — the optimizers of the generated API: P_opt (the moments
 * of every trainable parameter and the step count), P_step_bp,
 * P_step_zil, P_step_pc, and the optimizer checkpoints P_save_opt /
 * P_load_opt.
 *
 * The arithmetic of each kind (torch.optim's) is the runtime's
 * pcg_opt_update; what is generated is where it runs: after BP's sweep
 * or PC's inference for every parameter, or in place at each parameter's
 * level step inside Z-IL's sweep (emit_sweep.c, MODE_ZIL_OPT).  Both see
 * the same gradient bits, so P_step_zil gives P_step_bp's parameters and
 * moments bit for bit.
 */
#include <string.h>

#include "emit.h"

static int
trainable(const Graph *g)
{
	int n = 0;
	for (int i = 0; i < g->params.len; i++)
		n += !((ParamDecl *)g->params.items[i])->buffer;
	return n;
}

void
emit_opt_header(Emit *E, StrBuf *h)
{
	const Graph *g = E->g;
	if (!g->losses.len)
		return;
	sb_printf(h, "/* Optimizer state for %s_step_*: the first and second "
		     "moments of every\n * trainable parameter (the momentum "
		     "buffer; Adam's m and v) and the steps\n * taken.  A "
		     "zeroed struct is a fresh optimizer. */\n",
		  E->P);
	sb_printf(h, "typedef struct %s_opt {\n", E->P);
	static const char *const what[] = {"first moments (momentum buffers)",
					   "second moments (Adam, AdamW)"};
	for (int w = 0; w < 2; w++) {
		sb_printf(h, "\tstruct { /* %s */\n", what[w]);
		for (int i = 0; i < g->params.len; i++) {
			ParamDecl *pd = g->params.items[i];
			if (!pd->buffer)
				sb_printf(h, "\t\t%s %s%s;\n", E->real,
					  emit_member(E, pd->name),
					  emit_decl_dims(E, &pd->shape, 0));
		}
		if (!trainable(g))
			sb_printf(h, "\t\t%s none_[1];\n", E->real);
		sb_printf(h, "\t} %c;\n", w ? 'v' : 'm');
	}
	sb_printf(h, "\tint64_t step; /* optimizer steps taken */\n} %s_opt;\n\n",
		  E->P);
}

void
emit_opt_prototypes(Emit *E, StrBuf *h)
{
	if (!E->g->losses.len)
		return;
	const char *P = E->P;
	sb_printf(h, "/* Optimizers (pcg_optim): one step by BP, by Z-IL "
		     "(bit-identical to BP) and by\n * standard PC; NaN, with "
		     "nothing changed, for an invalid optimizer or state */\n");
	for (int i = 0; i < 2; i++)
		if (emit_has(E, i ? METHOD_ZIL : METHOD_BP))
			sb_printf(h, "%s %s_step_%s(%s_params *p, %s_opt *o, "
				     "%s_state *s, const pcg_optim *c);\n",
				  E->real, P, i ? "zil" : "bp", P, P, P);
	if (emit_has(E, METHOD_PC))
		sb_printf(h, "%s %s_step_pc(%s_params *p, %s_opt *o, %s_state *s, "
			     "const pcg_optim *c, int steps, %s gamma);\n",
			  E->real, P, P, P, P, E->real);
	sb_printf(h, "#ifndef PCG_NO_FILES\nint %s_save_opt(const %s_opt *o, "
		     "const char *path);\n", P, P);
	sb_printf(h, "int %s_load_opt(%s_opt *o, const char *path);\n#endif\n",
		  P, P);
}

void
emit_opt_update(Emit *E, const ParamDecl *pd, const char *grad)
{
	const char *m = emit_member(E, pd->name);
	emit_line(E, "%s(c, o->step, %lld, %s, %s, %s, %s);",
		  emit_rt(E, "opt_update"), (long long)shape_numel(&pd->shape),
		  emit_param_ptr(E, "p", pd), grad,
		  emit_whole(E, "", arena_printf(E->a, "o->m.%s", m), &pd->shape,
			     0),
		  emit_whole(E, "", arena_printf(E->a, "o->v.%s", m), &pd->shape,
			     0));
}

/* The info table of P_opt for its checkpoints and the descriptor: m.NAME
 * then v.NAME. */
static void
opt_info(Emit *E)
{
	const Graph *g = E->g;
	int n = trainable(g);
	sb_printf(E->out, "\n/* The members of %s_opt, for %s_save_opt, "
			  "%s_load_opt and %s_model */\nstatic const "
			  "pcg_param_info opt_info[%d] = {\n",
		  E->P, E->P, E->P, E->P, n ? 2 * n : 1);
	int64_t off = 0;
	for (int w = 0; w < 2; w++)
		for (int i = 0; i < g->params.len; i++) {
			ParamDecl *pd = g->params.items[i];
			if (pd->buffer)
				continue;
			StrBuf dims = {0};
			for (int k = 0; k < pd->shape.rank; k++)
				sb_printf(&dims, "%s%lld", k ? ", " : "",
					  (long long)pd->shape.dim[k]);
			int64_t cnt = shape_numel(&pd->shape);
			sb_printf(E->out, "\t{.name = \"%c.%s\", .rank = %d, .dims "
					  "= {%s}, .offset = %lld, .count = %lld, "
					  ".byte_offset = offsetof(%s_opt, %c.%s), "
					  ".trainable = 1},\n",
				  w ? 'v' : 'm', pd->name, pd->shape.rank,
				  dims.data ? dims.data : "0", (long long)off,
				  (long long)cnt, E->P, w ? 'v' : 'm',
				  emit_member(E, pd->name));
			sb_free(&dims);
			off += cnt;
		}
	if (!n)
		sb_printf(E->out, "\t{.name = \"\"},\n");
	sb_puts(E->out, "};\n");
}

/* o->step++ and the update of every trainable parameter from g */
static void
opt_apply(Emit *E)
{
	const Graph *g = E->g;
	sb_printf(E->out, "\n/* One step of optimizer c from the gradient g, "
			  "every trainable parameter. */\nstatic void\n"
			  "opt_apply(%s_params *p, %s_opt *o, const %s_params "
			  "*g, const pcg_optim *c)\n{\n",
		  E->P, E->P, E->P);
	emit_line(E, "(void)p;\n\t(void)g;");
	emit_line(E, "o->step++;");
	for (int i = 0; i < g->params.len; i++) {
		ParamDecl *pd = g->params.items[i];
		if (!pd->buffer)
			emit_opt_update(E, pd, emit_whole(E, "const ",
				arena_printf(E->a, "g->%s",
					     emit_member(E, pd->name)),
				&pd->shape, 0));
	}
	emit_fn_end(E);
}

/* The checks of a step: the optimizer, then the state. */
static void
step_begin(Emit *E, const char *name, const char *extra)
{
	emit_fn_begin(E, NULL, E->real, name, emit_params(E, arena_printf(
		E->a, "%%P_params *p, %%P_opt *o, %%P_state *s, const "
		      "pcg_optim *c%s", extra)));
	emit_line(E, "if (pcg_optim_check(c) != PCG_OPTIM_OK)\n\t\treturn NAN; "
		     "/* nothing changes */");
	emit_guard_train(E);
}

void
emit_opt_api(Emit *E)
{
	const Graph *g = E->g;
	if (!g->losses.len)
		return;
	if (emit_has(E, METHOD_BP | METHOD_PC) || E->o->zil_control == 2)
		opt_apply(E);

	if (emit_has(E, METHOD_BP)) {
	step_begin(E, "step_bp", "");
	emit_line(E, "%s loss = forward(p, s);", E->real);
	emit_line(E, "backward(p, s, &s->grad, NULL, 0);");
	emit_line(E, "opt_apply(p, o, &s->grad, c);");
	emit_line(E, "end_of_step(p, s);");
	emit_line(E, "return loss;");
	emit_fn_end(E);
	}

	if (emit_has(E, METHOD_ZIL)) {
	step_begin(E, "step_zil", "");
	if (E->o->zil_control == 2) {
		/* tests only: the network's dynamics, every level learning
		 * one step late (pc_run), must not give BP's step */
		emit_line(E, "%s loss = pc_run(p, s, &s->grad, %s_DEPTH, %s, %s, "
			     "1); /* negative control */",
			  E->real, E->PU, emit_lit(E, 1), emit_lit(E, 1));
		emit_line(E, "opt_apply(p, o, &s->grad, c);");
		emit_line(E, "(void)zil_opt; /* the in-place form, not used "
			     "here */");
	} else {
		emit_line(E, "%s loss = forward(p, s);", E->real);
		emit_line(E, "o->step++;");
		emit_line(E, "zil_opt(p, o, s, c);");
	}
	emit_line(E, "end_of_step(p, s);");
	emit_line(E, "return loss;");
	emit_fn_end(E);
	}

	if (emit_has(E, METHOD_PC)) {
	step_begin(E, "step_pc", emit_params(E, ", int steps, %R gamma"));
	emit_line(E, "%s loss = pc_run(p, s, &s->grad, steps, gamma, %s, 0);",
		  E->real, emit_lit(E, 1));
	emit_line(E, "opt_apply(p, o, &s->grad, c);");
	emit_line(E, "end_of_step(p, s);");
	emit_line(E, "return loss;");
	emit_fn_end(E);
	}

	opt_info(E);
	sb_puts(E->out, "\n#ifndef PCG_NO_FILES");
	for (int w = 0; w < 2; w++) {
		emit_fn_begin(E, NULL, "int", w ? "load_opt" : "save_opt",
			      emit_params(E, w ? "%P_opt *o, const char *path"
					       : "const %P_opt *o, const char "
						 "*path"));
		emit_line(E, "uint64_t step = (uint64_t)o->step;");
		emit_line(E, "int r = pcg_ckpt_%s_ex(path, \"%s/optimizer\", "
			     "opt_info, %d, (int)sizeof(%s), o, &step, 1);",
			  w ? "load" : "save", g->name, 2 * trainable(g), E->real);
		if (w)
			emit_line(E, "if (r == PCG_CKPT_OK)\n\t\to->step = "
				     "(int64_t)step;");
		emit_line(E, "return r;");
		emit_fn_end(E);
	}	sb_puts(E->out, "#endif\n");
}
