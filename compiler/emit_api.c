/*
 * emit_api.c — the generated header and the API functions of API.md.
 *
 * Takes the levelled graph and the emitter's state; writes the header
 * (types, info tables, prototypes) and, one small function each, the API
 * functions that call the static passes (forward, backward, zil_*, pc_*)
 * written by emit.c; last, P_model and the descriptor it returns.
 */
#include <string.h>

#include "emit.h"


static const char *const init_name[] = {
	"PCG_INIT_ZEROS",  "PCG_INIT_ONES",   "PCG_INIT_NORMAL",
	"PCG_INIT_UNIFORM", "PCG_INIT_XAVIER", "PCG_INIT_HE"};

static int
has_ids(const Graph *g)
{
	for (int w = 0; w < 2; w++) {
		const PtrVec *l = w ? &g->targets : &g->inputs;
		for (int i = 0; i < l->len; i++)
			if (((DataDecl *)l->items[i])->is_int)
				return 1;
	}
	return 0;
}

/* Whether a vertex (not only a loss) reads a target: teacher forcing.
 * P_predict then reads the targets too. */
static int
reads_targets(const Graph *g)
{
	for (int i = 0; i < g->nodes.len; i++) {
		const Node *n = g->nodes.items[i];
		for (int k = 0; n->live && !n->in_loss && k < n->nin; k++)
			if (n->in[k]->op == OP_TARGET)
				return 1;
	}
	return 0;
}

/*
 * The size of the checkpoint of the parameters, with no counters: the
 * sum pcg_ckpt_bytes makes (the file format is at the top of pcg_ckpt.c).
 */
static long long
ckpt_bytes(const Emit *E)
{
	const Graph *g = E->g;
	long long real = strcmp(E->o->real, "double") ? 4 : 8;
	/* magic, version, real size, name, 0 counters, parameter count, hash */
	long long n = 8 + 4 + 4 + 4 + (long long)strlen(g->name) + 4 + 4 + 8;

	for (int i = 0; i < g->params.len; i++) {
		const ParamDecl *pd = g->params.items[i];
		/* name, rank, dims, flags, payload */
		n += 4 + (long long)strlen(pd->name) + 4 + 4LL * pd->shape.rank +
		     4 + (long long)shape_numel(&pd->shape) * real;
	}
	return n;
}

/* The prototypes of the API (header) */
static void
emit_prototypes(Emit *E, StrBuf *h)
{
	const char *P = E->P, *R = E->real;
	sb_printf(h, "void %s_init(%s_params *p, uint64_t seed);\n", P, P);
	sb_printf(h, "%s %s_forward(const %s_params *p, %s_state *s);\n", R, P,
		  P, P);
	sb_printf(h, "%s %s_predict(const %s_params *p, %s_state *s);\n", R,
		  P, P, P);
	if (emit_has(E, METHOD_BP))
		sb_printf(h, "%s %s_grad_bp(const %s_params *p, %s_state *s, "
			     "%s_params *g);\n", R, P, P, P, P);
	if (emit_has(E, METHOD_ZIL))
		sb_printf(h, "%s %s_grad_zil(const %s_params *p, %s_state *s, "
			     "%s_params *g);\n", R, P, P, P, P);
	if (emit_has(E, METHOD_ZIL) && emit_has(E, METHOD_PC))
		sb_printf(h, "%s %s_grad_zil_dynamics(const %s_params *p, "
			     "%s_state *s, %s_params *g);\n", R, P, P, P, P);
	if (emit_has(E, METHOD_ZIL) && emit_has(E, METHOD_PC))
		sb_printf(h, "%s %s_grad_fazil(const %s_params *p, %s_state *s, "
			     "%s_params *g);\n", R, P, P, P, P);
	if (emit_has(E, METHOD_PC)) {
		sb_printf(h, "%s %s_grad_pc(const %s_params *p, %s_state *s, "
			     "%s_params *g, int steps, %s gamma);\n",
			  R, P, P, P, P, R);
		sb_printf(h, "%s %s_grad_pc_weighted(const %s_params *p, %s_state "
			     "*s, %s_params *g, int steps, %s gamma, %s beta);\n",
			  R, P, P, P, P, R, R);
	}
	if (emit_has(E, METHOD_BP))
		sb_printf(h, "%s %s_train_bp(%s_params *p, %s_state *s, %s lr);\n",
			  R, P, P, P, R);
	if (emit_has(E, METHOD_ZIL))
		sb_printf(h, "%s %s_train_zil(%s_params *p, %s_state *s, %s lr);\n",
			  R, P, P, P, R);
	if (emit_has(E, METHOD_PC)) {
		sb_printf(h, "%s %s_train_pc(%s_params *p, %s_state *s, %s lr, "
			     "int steps, %s gamma);\n",
			  R, P, P, P, R, R);
		sb_printf(h, "%s %s_energy(const %s_params *p, const %s_state *s);\n",
			  R, P, P, P);
		sb_printf(h, "/* additions: PC inference one step at a time, and "
			     "targets moved near the outputs */\n");
		sb_printf(h, "%s %s_pc_init(const %s_params *p, %s_state *s);\n", R,
			  P, P, P);
		sb_printf(h, "%s %s_pc_step(const %s_params *p, %s_state *s, %s "
			     "gamma);\n",
			  R, P, P, P, R);
		sb_printf(h, "void %s_targets_near(%s_state *s, %s c);\n", P, P, R);
		sb_printf(h, "/* addition: the energy level by level, e[%s_DEPTH] "
			     "*/\n%s %s_pc_energies(const %s_params *p, const "
			     "%s_state *s, %s *e);\n", E->PU, R, P, P, P, R);
		sb_printf(h, "/* addition: the gradient standard PC takes from the "
			     "errors where\n * inference stands */\n%s "
			     "%s_pc_grad(const %s_params *p, %s_state *s, "
			     "%s_params *g);\n", R, P, P, P, P);
	}
	emit_opt_prototypes(E, h);
	if (E->g->losses.len && emit_has(E, METHOD_PC)) {
		sb_printf(h, "/* additions: Fa-Z-IL and incremental PC "
			     "(docs/pc.md) */\n");
		if (emit_has(E, METHOD_ZIL)) {
			sb_printf(h, "%s %s_train_fazil(%s_params *p, %s_state *s, "
				     "%s lr);\n", R, P, P, P, R);
			sb_printf(h, "%s %s_step_fazil(%s_params *p, %s_opt *o, "
				     "%s_state *s, const pcg_optim *c);\n",
				  R, P, P, P, P);
		}
		sb_printf(h, "%s %s_train_ipc(%s_params *p, %s_state *s, %s lr, "
			     "int steps, %s gamma);\n", R, P, P, P, R, R);
		sb_printf(h, "%s %s_step_ipc(%s_params *p, %s_opt *o, %s_state *s, "
			     "const pcg_optim *c, int steps, %s gamma);\n",
			  R, P, P, P, P, R);
	}
	sb_printf(h, "void %s_sgd(%s_params *p, const %s_params *g, %s lr);\n",
		  P, P, P, R);
	sb_printf(h, "#ifndef PCG_NO_FILES\nint %s_save(const %s_params *p, "
		     "const char *path);\n", P, P);
	sb_printf(h, "int %s_load(%s_params *p, const char *path);\n#endif\n",
		  P, P);
	sb_printf(h, "/* the checkpoint in memory: the bytes of the file, "
		     "%s_CKPT_BYTES of them */\n", E->PU);
	sb_printf(h, "size_t %s_save_mem(const %s_params *p, void *buf, size_t "
		     "cap);\n", P, P);
	sb_printf(h, "int %s_load_mem(%s_params *p, const void *buf, size_t "
		     "len);\n", P, P);
	sb_printf(h, "/* -1 when every integer input and target is in range, "
		     "else the flat\n * index (inputs, then targets, as "
		     "%s_input_info counts) of the first\n * bad one */\nlong "
		     "%s_check_data(const %s_state *s);\n",
		  P, P, P);
	sb_printf(h, "/* The model described for a caller without this header "
		     "(pcg_model in\n * pcg_runtime.h: sizes, tables, offsets, "
		     "the functions) */\nconst pcg_model *%s_model(void);\n", P);
}

void
emit_header(Emit *E, StrBuf *h, const char *vdecl, const char *ddecl,
	    const char *pcdecl, const char *zildecl)
{
	const Graph *g = E->g;
	const char *P = E->P, *PU = E->PU, *R = E->real;
	sb_printf(h, "/* Generated by pcc %s from %s. DO NOT EDIT. */\n",
		  PCC_VERSION, E->o->source_name);
	sb_printf(h, "#ifndef PCC_%s_H\n#define PCC_%s_H\n\n", PU, PU);
	sb_printf(h, "#include <stddef.h>\n#include <stdint.h>\n\n#include "
		     "\"pcg_runtime.h\"\n\n#ifdef __cplusplus\nextern \"C\" {\n"
		     "#endif\n\n");
	sb_printf(h, "#define %s_BATCH %d /* samples per call */\n", PU,
		  E->o->batch);
	sb_printf(h, "#define %s_DEPTH %d /* levels of the levelled graph: Z-IL "
		     "needs %d steps */\n",
		  PU, g->depth, g->depth);
	sb_printf(h, "#define %s_IDENTITIES %d /* identity vertices the levelling "
		     "inserted */\n",
		  PU, g->nidentity);
	int reads = reads_targets(g);
	sb_printf(h, "#define %s_PREDICT_READS_TARGETS %d /* a vertex reads a "
		     "target (%s_predict too) */\n", PU, reads, E->P);
	static const struct {
		const char *name;
		unsigned bit;
	} meth[] = {{"BP", METHOD_BP}, {"ZIL", METHOD_ZIL}, {"PC", METHOD_PC}};
	for (int i = 0; i < 3; i++)
		sb_printf(h, "#define %s_METHOD_%s %d /* pcc --methods: its "
			     "functions are here */\n", PU, meth[i].name,
			  emit_has(E, meth[i].bit));
	sb_printf(h, "#define %s_NUM_PARAMS %d /* param declarations */\n", PU,
		  g->params.len);
	sb_printf(h, "#define %s_NUM_REALS %lld /* scalars in %s_params */\n",
		  PU, (long long)g->param_count, P);
	sb_printf(h, "#define %s_CKPT_BYTES %lld /* bytes of the checkpoint of "
		     "%s_save and %s_save_mem */\n\n",
		  PU, ckpt_bytes(E), P, P);
	sb_printf(h, "typedef %s %s;\n\n", E->o->real, R);
	sb_printf(h, "/* The parameters, in declaration order: a dense array of "
		     "%s.\n * The same type holds gradients. */\n",
		  R);
	sb_printf(h, "typedef struct %s_params {\n", P);
	for (int i = 0; i < g->params.len; i++) {
		ParamDecl *p = g->params.items[i];
		sb_printf(h, "\t%s %s%s;\n", R, emit_member(E, p->name),
			  emit_decl_dims(E, &p->shape, 0));
	}
	if (!g->params.len)
		sb_printf(h, "\t%s none_[1];\n", R);
	sb_printf(h, "} %s_params;\n\n", P);
	emit_opt_header(E, h);
	sb_printf(h, "typedef struct %s_state {\n", P);
	for (int w = 0; w < 2; w++) {
		const PtrVec *list = w ? &g->targets : &g->inputs;
		sb_printf(h, "\tstruct {\n");
		for (int i = 0; i < list->len; i++) {
			DataDecl *d = list->items[i];
			sb_printf(h, "\t\t%s %s%s;%s\n", d->is_int ? "int32_t" : R,
				  emit_member(E, d->name),
				  emit_decl_dims(E, &d->shape, 1),
				  d->is_int ? arena_printf(E->a, " /* ids, each in "
							   "0..%lld */",
							   (long long)d->bound - 1)
					    : "");
		}
		if (!list->len)
			sb_printf(h, "\t\tchar none_;\n");
		if (!w)
			sb_printf(h, "\t} in;\n");
	}
	sb_printf(h, "\t} target;\n\tstruct { /* loss outputs and `output` "
		     "vertices */\n");
	for (int i = 0; i < g->outputs.len; i++) {
		OutputDecl *o = g->outputs.items[i];
		sb_printf(h, "\t\t%s %s%s;\n", R, emit_member(E, o->name),
			  emit_decl_dims(E, &o->node->shape, 1));
	}
	if (!g->outputs.len)
		sb_printf(h, "\t\tchar none_;\n");
	sb_printf(h, "\t} out;\n");
	sb_printf(h, "\tint n; /* samples in use, 1..%s_BATCH; 0 (a zeroed "
		     "state) means %s_BATCH */\n", PU, PU);
	sb_printf(h, "\tuint64_t rng; /* counter of the dropout stream */\n");
	sb_printf(h, "\tpcg_pool *pool; /* threads to spread the work over "
		     "(pcg_pool_create); NULL: the calling thread */\n");
	sb_printf(h, "\t/* The rest is the implementation's. */\n");
	sb_printf(h, "\tint mode; /* enum pcg_mode of the pass being run */\n");
	if (!g->losses.len) {
		sb_printf(h, "\tstruct { /* forward values of the vertices and "
			     "their operations */\n%s\t} v;\n", vdecl);
	} else {
		sb_printf(h, "\t/* v and d are two views of one storage: the "
			     "members of a union (plan<k>_)\n\t * never live at "
			     "once (the memory plan of pcc --info) */\n"
			     "\tunion {\n");
		sb_printf(h, "\tstruct { /* forward values of the vertices and "
			     "their operations */\n%s\t} v;\n", vdecl);
		sb_printf(h, "\tstruct { /* BP deltas d L / d value; the Z-IL "
			     "schedule keeps its errors\n\t\t * eps = -delta "
			     "here too */\n%s\t} d;\n\t};\n",
			  ddecl);
		if (emit_has(E, METHOD_PC))
			sb_printf(h, "\tstruct { /* the PC network */\n%s\t\t%s "
				     "beta; /* the losses' weight in the energy "
				     "*/\n\t\tint valid; /* the errors match the "
				     "value nodes */\n%s\t} pc;\n",
				  pcdecl, R,
				  emit_has(E, METHOD_ZIL)
				  ? arena_printf(E->a, "\t\t/* Fa-Z-IL's "
					"plasticity gates, one per vertex and "
					"one for the\n\t\t * losses: has "
					"fired (or closed), lets the update "
					"through now */\n\t\tunsigned char "
					"fired[%d];\n\t\tunsigned char "
					"open[%d];\n", g->pcv.len + 1,
					g->pcv.len + 1)
				  : "");
		if (emit_has(E, METHOD_ZIL))
			sb_printf(h, "\tstruct { /* Z-IL training: a scratch for "
				     "one parameter's update, and sums for\n\t\t "
				     "* parameters used at several steps (tied) "
				     "*/\n%s\t} zil;\n",
				  zildecl);
		if (emit_has(E, METHOD_BP | METHOD_PC))
			sb_printf(h, "\t%s_params grad; /* gradient of the BP "
				     "and PC training steps */\n", P);
	}
	sb_printf(h, "} %s_state;\n\n", P);
	sb_printf(h, "extern const pcg_param_info %s_param_info[%s_NUM_PARAMS "
		     "> 0 ? %s_NUM_PARAMS : 1];\n",
		  P, PU, PU);
	sb_printf(h, "/* The members of s->in and s->target: count is per sample "
		     "and member k holds\n * %s_BATCH * count values at "
		     "byte_offset in %s_state (offset counts the values\n * of the "
		     "members before it, per sample); bound > 0 marks integer ids "
		     "(int32_t),\n * each in 0..bound-1. */\n",
		  PU, P);
	sb_printf(h, "#define %s_NUM_INPUTS %d\n#define %s_NUM_TARGETS %d\n", PU,
		  g->inputs.len, PU, g->targets.len);
	sb_printf(h, "extern const pcg_param_info %s_input_info[%s_NUM_INPUTS > 0 "
		     "? %s_NUM_INPUTS : 1];\n",
		  P, PU, PU);
	sb_printf(h, "extern const pcg_param_info %s_target_info[%s_NUM_TARGETS "
		     "> 0 ? %s_NUM_TARGETS : 1];\n",
		  P, PU, PU);
	sb_printf(h, "/* The members of s->out likewise, every one of them "
		     "%s. */\n#define "
		     "%s_NUM_OUTPUTS %d\nextern const pcg_param_info "
		     "%s_output_info[%s_NUM_OUTPUTS > 0 ? %s_NUM_OUTPUTS : 1];\n\n",
		  R, PU, g->outputs.len, P, PU, PU);
	emit_prototypes(E, h);
	sb_printf(h, "\n#ifdef __cplusplus\n}\n#endif\n\n#endif\n");
}

static void
data_info(Emit *E, StrBuf *body)
{
	const Graph *g = E->g;
	const char *P = E->P, *PU = E->PU;
	sb_printf(body, "\nconst pcg_param_info %s_param_info[%s_NUM_PARAMS > "
			"0 ? %s_NUM_PARAMS : 1] = {\n",
		  P, PU, PU);
	for (int i = 0; i < g->params.len; i++) {
		ParamDecl *pd = g->params.items[i];
		sb_printf(body, "\t{\"%s\", %d, {", pd->name, pd->shape.rank);
		for (int k = 0; k < pd->shape.rank; k++)
			sb_printf(body, "%s%lld", k ? ", " : "",
				  (long long)pd->shape.dim[k]);
		if (!pd->shape.rank)
			sb_puts(body, "0");
		/* trainable: 0 for buffers (running statistics) */
		sb_printf(body, "}, %lld, %lld, %s, %.17g, %.17g, 0, offsetof(%s_params, "
				"%s), %d},\n",
			  (long long)pd->offset,
			  (long long)shape_numel(&pd->shape),
			  init_name[pd->init], pd->a, pd->b, P,
			  emit_member(E, pd->name), !pd->buffer);
	}
	if (!g->params.len)
		sb_printf(body, "\t{\"\", 0, {0}, 0, 0, 0, 0, 0, 0, 0, 0},\n");
	sb_printf(body, "};\n");
	for (int w = 0; w < 2; w++) {
		const PtrVec *list = w ? &g->targets : &g->inputs;
		const char *what = w ? "target" : "input";
		const char *WHAT = w ? "TARGETS" : "INPUTS";
		sb_printf(body, "\nconst pcg_param_info %s_%s_info[%s_NUM_%s > 0 ? "
				"%s_NUM_%s : 1] = {\n",
			  P, what, PU, WHAT, PU, WHAT);
		int64_t off = 0;
		for (int i = 0; i < list->len; i++) {
			DataDecl *d = list->items[i];
			sb_printf(body, "\t{\"%s\", %d, {", d->name, d->shape.rank);
			for (int k = 0; k < d->shape.rank; k++)
				sb_printf(body, "%s%lld", k ? ", " : "",
					  (long long)d->shape.dim[k]);
			if (!d->shape.rank)
				sb_puts(body, "0");
			sb_printf(body, "}, %lld, %lld, 0, 0, 0, %lld, offsetof(%s_state, "
					"%s.%s), 0},\n", (long long)off,
				  (long long)shape_numel(&d->shape),
				  (long long)(d->is_int ? d->bound : 0), P,
				  w ? "target" : "in", emit_member(E, d->name));
			off += shape_numel(&d->shape);
		}
		if (!list->len)
			sb_printf(body, "\t{\"\", 0, {0}, 0, 0, 0, 0, 0, 0, 0, 0},\n");
		sb_printf(body, "};\n");
	}
	sb_printf(body, "\nconst pcg_param_info %s_output_info[%s_NUM_OUTPUTS > "
			"0 ? %s_NUM_OUTPUTS : 1] = {\n", P, PU, PU);
	int64_t off = 0;
	for (int i = 0; i < g->outputs.len; i++) {
		const OutputDecl *o = g->outputs.items[i];
		const Shape *sh = &o->node->shape;
		sb_printf(body, "\t{\"%s\", %d, {", o->name, sh->rank);
		for (int k = 0; k < sh->rank; k++)
			sb_printf(body, "%s%lld", k ? ", " : "",
				  (long long)sh->dim[k]);
		if (!sh->rank)
			sb_puts(body, "0");
		sb_printf(body, "}, %lld, %lld, 0, 0, 0, 0, offsetof(%s_state, "
				"out.%s), 0},\n", (long long)off,
			  (long long)shape_numel(sh), P, emit_member(E, o->name));
		off += shape_numel(sh);
	}
	if (!g->outputs.len)
		sb_printf(body, "\t{\"\", 0, {0}, 0, 0, 0, 0, 0, 0, 0, 0},\n");
	sb_printf(body, "};\n");
}


/* Start an API function: comment, signature; the body follows. */
void
emit_fn_begin(Emit *E, const char *comment, const char *ret, const char *name,
	 const char *params)
{
	sb_printf(E->out, "\n%s%s\n%s\n%s_%s(%s)\n{\n", comment ? comment : "",
		  comment ? "\n" : "", ret, E->P, name, params);
}

void
emit_fn_end(Emit *E)
{
	sb_puts(E->out, "}\n");
}

/* Functions that read the data refuse ids out of range. */
void
emit_guard(Emit *E, const char *what, int targets)
{
	emit_line(E, "if (s->n < 0 || s->n > %s_BATCH)\n\t\treturn%s; /* "
		     "samples in use out of range: nothing changes */",
		  E->PU, what);
	if (has_ids(E->g))
		emit_line(E, "if (check_ids(s, %d) >= 0)\n\t\treturn%s; /* ids "
			     "out of range: nothing changes */",
			  targets, what);
}

/* guard, then training mode for the forward passes that follow */
void
emit_guard_train(Emit *E)
{
	emit_guard(E, " NAN", 1);
	emit_line(E, "s->mode = PCG_MODE_TRAIN;");
}

const char *
emit_params(Emit *E, const char *fmt)
{
	/* %1: P (the prefix), %2: P_real */
	StrBuf sb = {0};
	for (const char *f = fmt; *f; f++) {
		if (f[0] == '%' && f[1] == 'P') {
			sb_puts(&sb, E->P);
			f++;
		} else if (f[0] == '%' && f[1] == 'R') {
			sb_puts(&sb, E->real);
			f++;
		} else {
			sb_putc(&sb, *f);
		}
	}
	const char *r = arena_strdup(E->a, sb.data);
	sb_free(&sb);
	return r;
}

static void
api_init(Emit *E)
{
	const Graph *g = E->g;
	emit_fn_begin(E, NULL, "void", "init", emit_params(E, "%P_params *p, uint64_t seed"));
	const char *initfn = E->is_float ? "pcg_init_param_f" : "pcg_init_param_d";
	for (int i = 0; i < g->params.len; i++) {
		ParamDecl *pd = g->params.items[i];
		emit_line(E, "%s(%s, &%s_param_info[%d], seed, %d);", initfn,
			  emit_param_ptr(E, "p", pd), E->P, i, i);
	}
	if (!g->params.len)
		emit_line(E, "(void)p;\n\t(void)seed;");
	emit_fn_end(E);
}

static void
api_check_data(Emit *E)
{
	const Graph *g = E->g;
	int ids = has_ids(g);
	if (ids) {
		sb_printf(E->out, "\n/* -1, or the flat index of the first id out "
				  "of range: in the inputs,\n * and in the "
				  "targets too when `targets` is set. */\nstatic "
				  "long\ncheck_ids(const %s_state *s, int targets)\n"
				  "{\n", E->P);
		emit_line(E, "long at;");
		emit_line(E, "int nb = batch_in_use(s);");
		emit_line(E, "if (nb > %s_BATCH)\n\t\tnb = %s_BATCH;", E->PU,
			  E->PU);
		int64_t base = 0;
		for (int w = 0; w < 2; w++) {
			const PtrVec *l = w ? &g->targets : &g->inputs;
			for (int i = 0; i < l->len; i++) {
				DataDecl *d = l->items[i];
				int64_t n = shape_numel(&d->shape) * E->o->batch;
				if (d->is_int) {
					emit_line(E, "at = %spcg_check_ids(nb * %lld, "
						     "%lld, (const int32_t *)s->%s.%s);",
						  w ? "!targets ? -1 : " : "",
						  (long long)shape_numel(&d->shape),
						  (long long)d->bound,
						  w ? "target" : "in",
						  emit_member(E, d->name));
					emit_line(E, "if (at >= 0)\n\t\treturn %lld + "
						     "at;", (long long)base);
				}
				base += n;
			}
		}
		emit_line(E, "return -1;");
		emit_fn_end(E);
	}
	emit_fn_begin(E, NULL, "long", "check_data",
		      emit_params(E, "const %P_state *s"));
	if (!ids)
		emit_line(E, "(void)s;\n\treturn -1; /* no integer data */");
	else
		emit_line(E, "return check_ids(s, 1);");
	emit_fn_end(E);
}

static void
api_forward(Emit *E)
{
	emit_fn_begin(E, NULL, E->real, "forward", emit_params(E, "const %P_params *p, "
						      "%P_state *s"));
	emit_guard(E, " NAN", 1);
	emit_line(E, "s->mode = PCG_MODE_EVAL;");
	emit_line(E, "return forward(p, s);");
	emit_fn_end(E);
	emit_fn_begin(E, "/* The outputs in evaluation mode; targets and losses "
		    "untouched.  Returns 0. */", E->real, "predict",
		 emit_params(E, "const %P_params *p, %P_state *s"));
	emit_guard(E, " NAN", reads_targets(E->g));
	emit_line(E, "s->mode = PCG_MODE_PREDICT;");
	emit_line(E, "forward(p, s);");
	emit_line(E, "return %s;", emit_lit(E, 0));
	emit_fn_end(E);
}

/* the gradient functions: name, comment, extra parameters, the call */
static void
api_grads(Emit *E)
{
	static const struct {
		const char *name, *comment, *extra, *body;
	} fns[] = {
		{"grad_bp", "/* dL/dtheta by backpropagation, L the batch-mean "
			    "loss: into g. */", "",
		 "%R loss = forward(p, s);\n\tbackward(p, s, g, NULL, 0);\n\t"
		 "return loss;"},
		{"grad_zil", "/* dL/dtheta by Z-IL, the level schedule: into g. */",
		 "", "%R loss = forward(p, s);\n\tzil_schedule(p, s, g);\n\t"
		     "return loss;"},
		{"grad_zil_dynamics",
		 "/* dL/dtheta by Z-IL, running the whole PC network for DEPTH "
		 "steps with\n * gamma = 1 (C3), each vertex's parameters "
		 "learning at its level's step (C2). */", "",
		 "return pc_run(p, s, g, %U_DEPTH, GAMMA, ONE, 1);"},
		{"grad_fazil",
		 "/* dL/dtheta by Fa-Z-IL: the network's dynamics for DEPTH "
		 "steps with gamma\n * = 1, each vertex's update let through "
		 "by its own plasticity gate (the\n * first step its error is "
		 "non-zero while its prediction is unchanged). */", "",
		 "return pc_run(p, s, g, %U_DEPTH, GAMMA, ONE, 2);"},
		{"grad_pc", "/* Standard PC (inference learning): `steps` "
			    "inference steps at rate gamma\n * from x = mu, then "
			    "the gradient from the final errors, into g. */",
		 ", int steps, %R gamma",
		 "return pc_run(p, s, g, steps, gamma, ONE, 0);"},
		{"grad_pc_weighted",
		 "/* Standard PC with the losses weighted by beta in the energy "
		 "(the output\n * precision): F = sum 1/2 |eps|^2 + beta * loss, "
		 "so every output error is\n * scaled by beta.  Returns the "
		 "gradient divided by beta, an estimate of\n * dL/dtheta that "
		 "approaches BP's as beta goes to 0. */",
		 ", int steps, %R gamma, %R beta",
		 "return pc_run(p, s, g, steps, gamma, beta, 0);"},
	};
	static const unsigned need[] = {
		METHOD_BP, METHOD_ZIL, METHOD_ZIL | METHOD_PC,
		METHOD_ZIL | METHOD_PC, METHOD_PC, METHOD_PC
	};
	for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
		if ((E->o->methods & need[i]) != need[i])
			continue;
		emit_fn_begin(E, fns[i].comment, E->real, fns[i].name,
			 emit_params(E, arena_printf(E->a, "const %%P_params *p, "
						"%%P_state *s, %%P_params *g%s",
						fns[i].extra)));
		emit_guard_train(E);
		const char *b = emit_params(E, fns[i].body);
		StrBuf sb = {0};
		for (const char *f = b; *f; f++) {
			if (!strncmp(f, "%U", 2)) {
				sb_puts(&sb, E->PU);
				f++;
			} else if (!strncmp(f, "GAMMA", 5)) {
				sb_puts(&sb, E->o->zil_control == 1
					? arena_printf(E->a, "%s /* negative "
						       "control */", emit_lit(E, 0.9))
					: emit_lit(E, 1));
				f += 4;
			} else if (!strncmp(f, "ONE", 3)) {
				sb_puts(&sb, emit_lit(E, 1));
				f += 2;
			} else {
				sb_putc(&sb, *f);
			}
		}
		emit_line(E, "%s", sb.data);
		sb_free(&sb);
		emit_fn_end(E);
	}
}

/* What every training step does after its update: the running
 * statistics of batch norm take this step's batch statistics. */
static void
api_end_of_step(Emit *E)
{
	sb_printf(E->out, "\n/* After a training step's update: the running "
			  "statistics take the batch's. */\nstatic void\n"
			  "end_of_step(%s_params *p, %s_state *s)\n{\n",
		  E->P, E->P);
	emit_line(E, "const int nb = batch_in_use(s);");
	emit_line(E, "(void)p;\n\t(void)nb;");
	for (int i = 0; i < E->g->nodes.len; i++) {
		const Node *n = E->g->nodes.items[i];
		if (n->op == OP_BATCHNORM && n->live)
			emit_bn_update(E, n);
	}
	emit_fn_end(E);
}

static void
api_train(Emit *E)
{
	const char *tp = "%P_params *p, %P_state *s, %R lr";
	if (emit_has(E, METHOD_BP)) {
	emit_fn_begin(E, "/* One SGD step by backpropagation (s->grad its "
		    "scratch). */", E->real, "train_bp", emit_params(E, tp));
	emit_guard_train(E);
	emit_line(E, "%s loss = forward(p, s);", E->real);
	emit_line(E, "backward(p, s, &s->grad, p, lr); /* p -= lr * dL/dp */");
	emit_line(E, "end_of_step(p, s);");
	emit_line(E, "return loss;");
	emit_fn_end(E);
	}

	if (emit_has(E, METHOD_ZIL)) {
	emit_fn_begin(E, "/* One Z-IL training step, parameters updated in place "
		    "at their level's step. */", E->real, "train_zil",
		 emit_params(E, tp));
	emit_guard_train(E);
	emit_line(E, "%s loss = forward(p, s);", E->real);
	emit_line(E, "zil_train(p, s, lr);");
	emit_line(E, "end_of_step(p, s);");
	emit_line(E, "return loss;");
	emit_fn_end(E);
	}

	if (!emit_has(E, METHOD_PC))
		return;
	emit_fn_begin(E, "/* One standard-PC training step (gradient kept in "
		    "s->grad). */", E->real, "train_pc",
		 emit_params(E, "%P_params *p, %P_state *s, %R lr, int steps, "
			   "%R gamma"));
	emit_guard_train(E);
	emit_line(E, "%s loss = pc_run(p, s, &s->grad, steps, gamma, %s, 0);",
		  E->real, emit_lit(E, 1));
	emit_line(E, "sgd_pool(p, &s->grad, lr, s->pool);");
	emit_line(E, "end_of_step(p, s);");
	emit_line(E, "return loss;");
	emit_fn_end(E);
}

/* Fa-Z-IL's training step, and incremental PC's (docs/pc.md). */
static void
api_fazil_ipc(Emit *E, StrBuf *body)
{
	if (emit_has(E, METHOD_ZIL) && emit_has(E, METHOD_PC)) {
		emit_fn_begin(E, "/* One Fa-Z-IL training step: the network's "
			    "dynamics for DEPTH steps, each\n * vertex's update "
			    "let through by its plasticity gate, applied by SGD "
			    "at the\n * end (gradient kept in s->grad). */",
			 E->real, "train_fazil",
			 emit_params(E, "%P_params *p, %P_state *s, %R lr"));
		emit_guard_train(E);
		emit_line(E, "%s loss = pc_run(p, s, &s->grad, %s_DEPTH, %s, %s, "
			     "2);", E->real, E->PU, emit_lit(E, 1), emit_lit(E, 1));
		emit_line(E, "sgd_pool(p, &s->grad, lr, s->pool);");
		emit_line(E, "end_of_step(p, s);");
		emit_line(E, "return loss;");
		emit_fn_end(E);

		emit_fn_begin(E, "/* The same with optimizer c, one step from "
			    "the gates' updates at the end. */", E->real,
			 "step_fazil",
			 emit_params(E, "%P_params *p, %P_opt *o, %P_state *s, "
				   "const pcg_optim *c"));
		emit_line(E, "if (pcg_optim_check(c) != PCG_OPTIM_OK)\n\t\treturn "
			     "NAN; /* nothing changes */");
		emit_guard_train(E);
		emit_line(E, "%s loss = pc_run(p, s, &s->grad, %s_DEPTH, %s, %s, "
			     "2);", E->real, E->PU, emit_lit(E, 1), emit_lit(E, 1));
		emit_line(E, "opt_apply(p, o, &s->grad, c);");
		emit_line(E, "end_of_step(p, s);");
		emit_line(E, "return loss;");
		emit_fn_end(E);
	}
	if (!emit_has(E, METHOD_PC))
		return;
	emit_ipc_run(E, body);
	E->ind = "\t";
	emit_fn_begin(E, "/* Incremental PC: `steps` steps on this batch, each "
		    "moving the value nodes\n * (rate gamma) and the "
		    "parameters (SGD, rate lr) from the same errors\n * "
		    "(gradient of the last step kept in s->grad).  Returns the "
		    "loss before\n * the first step. */", E->real, "train_ipc",
		 emit_params(E, "%P_params *p, %P_state *s, %R lr, int steps, "
			   "%R gamma"));
	emit_guard_train(E);
	emit_line(E, "%s loss = ipc_run(p, NULL, s, NULL, lr, steps, gamma);",
		  E->real);
	emit_line(E, "end_of_step(p, s);");
	emit_line(E, "return loss;");
	emit_fn_end(E);

	emit_fn_begin(E, "/* The same with optimizer c: one optimizer step "
		    "(o->step + 1) per\n * incremental-PC step. */", E->real,
		 "step_ipc",
		 emit_params(E, "%P_params *p, %P_opt *o, %P_state *s, const "
			   "pcg_optim *c, int steps, %R gamma"));
	emit_line(E, "if (pcg_optim_check(c) != PCG_OPTIM_OK)\n\t\treturn NAN; "
		     "/* nothing changes */");
	emit_guard_train(E);
	emit_line(E, "%s loss = ipc_run(p, o, s, c, %s, steps, gamma);", E->real,
		  emit_lit(E, 0));
	emit_line(E, "end_of_step(p, s);");
	emit_line(E, "return loss;");
	emit_fn_end(E);
}

static void
api_energy(Emit *E)
{
	emit_fn_begin(E, "/* The PC energy F = sum over vertices of 1/2 |eps|^2 + "
		    "the losses at the\n * current predictions, mean over the "
		    "batch.  After a forward pass (x = mu)\n * it is the loss. */",
		 E->real, "energy", emit_params(E, "const %P_params *p, const "
						"%P_state *s"));
	emit_line(E, "%s f = %s;", E->real, emit_lit(E, 0));
	emit_line(E, "const int nb = batch_in_use(s);");
	emit_line(E, "(void)p;");
	emit_line(E, "if (s->n < 0 || s->n > %s_BATCH)\n\t\treturn NAN;",
		  E->PU);
	emit_line(E, "if (!s->pc.valid) {");
	E->ind = "\t\t";
	int shared = 0;
	for (int i = 0; i < E->g->losses.len; i++)
		shared |= !((Loss *)E->g->losses.items[i])->root->batched;
	if (shared)
		emit_line(E, "%s shared = %s;", E->real, emit_lit(E, 0));
	emit_losses_value(E, "f", "shared");
	emit_line(E, "return f / nb%s;", shared ? " + shared" : "");
	E->ind = "\t";
	emit_line(E, "}");
	emit_pc_energy(E);
	emit_line(E, "return f / nb;");
	emit_fn_end(E);

	emit_fn_begin(E, "/* The energy level by level: e[l], l < DEPTH, the "
		    "errors' 1/2 |eps|^2 of\n * the vertices at level l (the "
		    "losses at level 0), mean over the batch;\n * returns their "
		    "sum, P_energy. */", E->real, "pc_energies",
		 emit_params(E, "const %P_params *p, const %P_state *s, %R *e"));
	emit_line(E, "const int nb = batch_in_use(s);");
	emit_line(E, "for (int l = 0; l < %s_DEPTH; l++)\n\t\te[l] = %s;", E->PU,
		  emit_lit(E, 0));
	emit_line(E, "if (s->n < 0 || s->n > %s_BATCH)\n\t\treturn NAN;",
		  E->PU);
	emit_line(E, "if (!s->pc.valid) {\n\t\te[0] = %s_energy(p, s);\n"
		     "\t\treturn e[0];\n\t}", E->P);
	emit_pc_energy_levels(E);
	emit_line(E, "%s f = %s;", E->real, emit_lit(E, 0));
	emit_line(E, "for (int l = 0; l < %s_DEPTH; l++) {\n\t\te[l] /= nb;\n"
		     "\t\tf += e[l];\n\t}", E->PU);
	emit_line(E, "return f;");
	emit_fn_end(E);

	emit_fn_begin(E, "/* Forward pass and the PC network at x = mu (C1), ready "
		    "for pc_step; returns\n * the energy (the loss). */",
		 E->real, "pc_init", emit_params(E, "const %P_params *p, %P_state *s"));
	emit_guard_train(E);
	emit_line(E, "forward(p, s);");
	emit_line(E, "s->pc.beta = %s;", emit_lit(E, 1));
	emit_line(E, "pc_start(s);");
	emit_line(E, "pc_predict(p, s);");
	emit_line(E, "s->pc.valid = 1;");
	emit_line(E, "return %s_energy(p, s);", E->P);
	emit_fn_end(E);

	emit_fn_begin(E, "/* One PC inference step at rate gamma after pc_init; "
		    "returns the energy. */",
		 E->real, "pc_step", emit_params(E, "const %P_params *p, %P_state *s, "
						"%R gamma"));
	emit_guard_train(E);
	emit_line(E, "pc_backprop(p, s, &s->grad, -2);");
	emit_line(E, "pc_infer(s, gamma);");
	emit_line(E, "pc_predict(p, s);");
	emit_line(E, "return %s_energy(p, s);", E->P);
	emit_fn_end(E);

	emit_fn_begin(E, "/* The gradient standard PC takes from the errors where "
		    "inference stands\n * (after pc_init and pc_step, or any "
		    "function that ran PC): g = dL/dtheta\n * as P_grad_pc "
		    "writes it, the same bits as P_grad_pc with as many steps.\n"
		    " * The value nodes do not move.  Returns the energy; NAN, "
		    "g untouched,\n * when no PC network has run on s. */",
		 E->real, "pc_grad", emit_params(E, "const %P_params *p, "
						 "%P_state *s, %P_params *g"));
	emit_guard(E, " NAN", 1);
	emit_line(E, "if (!s->pc.valid)\n\t\treturn NAN;");
	emit_line(E, "const int nb = batch_in_use(s);");
	emit_line(E, "%s(%s_NUM_REALS, (%s *)g, %s);", emit_rt(E, "fill"),
		  E->PU, E->real, emit_lit(E, 0));
	emit_line(E, "pc_backprop(p, s, g, -1);");
	emit_line(E, "%s(%s_NUM_REALS, %s / (s->pc.beta * nb), (%s *)g);",
		  emit_rt(E, "scale"), E->PU, emit_lit(E, -1), E->real);
	emit_line(E, "return %s_energy(p, s);", E->P);
	emit_fn_end(E);
}

/* The target a loss node reads, as a buffer of the state and the distance
 * between its samples, when it is a target or a block of rows of one. */
static const char *
near_target(Emit *E, const Node *t, const char **ts)
{
	int64_t off = 0;
	const Node *leaf = t;
	if (t->op == OP_SLICE) {
		leaf = t->in[0];
		const OpAttr *at = t->at;
		int64_t row = shape_numel(&leaf->shape) /
			      (leaf->shape.rank ? leaf->shape.dim[0] : 1);
		for (int i = 1; i < leaf->shape.rank; i++)
			if (at->lo[i] || at->step[i] != 1 || at->drop[i])
				return NULL;
		if (leaf->shape.rank < 1 || at->step[0] != 1)
			return NULL;
		off = at->lo[0] * row;
	}
	if (leaf->op != OP_TARGET)
		return NULL;
	*ts = arena_printf(E->a, "%lld", (long long)emit_numel(leaf));
	const char *b = E->val[leaf->id];
	return off ? arena_printf(E->a, "%s + %lld", b, (long long)off) : b;
}

static void
api_targets_near(Emit *E)
{
	emit_fn_begin(E, "/* After a forward pass: move every target of an mse or "
		    "cross_entropy loss\n * to within a factor c of the loss's "
		    "optimum for the current outputs (the\n * output itself "
		    "for mse, its softmax for cross_entropy): y = y* + c (y - "
		    "y*).\n * Targets of other losses are left as they are. */",
		 "void", "targets_near", emit_params(E, "%P_state *s, %R c"));
	int any = 0;
	emit_line(E, "const int nb = batch_in_use(s);");
	emit_line(E, "if (s->n < 0 || s->n > %s_BATCH)\n\t\treturn;", E->PU);
	for (int i = 0; i < E->g->nodes.len; i++) {
		const Node *n = E->g->nodes.items[i];
		if (!n->in_loss || (n->op != OP_MSE && n->op != OP_CROSS_ENTROPY) ||
		    n->in[1]->is_int || !n->live)
			continue;
		const char *ts, *t = near_target(E, n->in[1], &ts);
		if (!t)
			continue;
		const Node *o = n->in[0];
		int64_t last = o->shape.rank ? o->shape.dim[o->shape.rank - 1] : 1;
		if (n->op == OP_MSE)
			emit_line(E, "%s(nb, %lld, %s, c, %s, %s);",
				  emit_rt(E, "near_mse"),
				  (long long)emit_numel(o), ts, t, E->val[o->id]);
		else
			emit_line(E, "%s(nb, %lld, %lld, %s, c, %s, %s);",
				  emit_rt(E, "near_xent"),
				  (long long)(emit_numel(o) / last), (long long)last,
				  ts, t, E->val[o->id]);
		any = 1;
	}
	if (!any)
		emit_line(E, "(void)nb;\n\t(void)c;");
	emit_fn_end(E);
}

/* p -= lr * g with the updates spread over a pool: the training steps
 * pass s->pool, P_sgd none. */
static void
api_sgd_pool(Emit *E)
{
	const Graph *g = E->g;
	sb_printf(E->out, "\n/* p -= lr * g, spread over pool (NULL: this "
		  "thread) */\nstatic void\nsgd_pool(%s_params *p, const "
		  "%s_params *g, %s lr, pcg_pool *pool)\n{\n", E->P, E->P,
		  E->real);
	int n = 0;
	for (int i = 0; i < g->params.len; i++) {
		ParamDecl *pd = g->params.items[i];
		if (pd->buffer)
			continue; /* running statistics: not trained */
		emit_line(E, "%s(pool, %lld, lr, %s, %s);", emit_rt(E, "sgd_mt"),
			  (long long)shape_numel(&pd->shape),
			  emit_param_ptr(E, "p", pd),
			  emit_whole(E, "const ", arena_printf(E->a, "g->%s",
					emit_member(E, pd->name)), &pd->shape, 0));
		n++;
	}
	if (!n)
		emit_line(E, "(void)p;\n\t(void)g;\n\t(void)lr;\n\t(void)pool;");
	emit_fn_end(E);
}

static void
api_sgd_ckpt(Emit *E)
{
	const Graph *g = E->g;
	emit_fn_begin(E, "/* p -= lr * g */", "void", "sgd",
		 emit_params(E, "%P_params *p, const %P_params *g, %R lr"));
	emit_line(E, "sgd_pool(p, g, lr, NULL);");
	emit_fn_end(E);
	sb_puts(E->out, "\n#ifndef PCG_NO_FILES");
	for (int w = 0; w < 2; w++) {
		emit_fn_begin(E, NULL, "int", w ? "load" : "save",
			 emit_params(E, w ? "%P_params *p, const char *path"
				     : "const %P_params *p, const char *path"));
		emit_line(E, "return pcg_ckpt_%s(path, \"%s\", %s_param_info, "
			     "%s_NUM_PARAMS, (int)sizeof(%s), p);",
			  w ? "load" : "save", g->name, E->P, E->PU, E->real);
		emit_fn_end(E);
	}
	sb_puts(E->out, "#endif\n");
	for (int w = 0; w < 2; w++) {
		emit_fn_begin(E, NULL, w ? "int" : "size_t",
			      w ? "load_mem" : "save_mem",
			      emit_params(E, w ? "%P_params *p, const void *buf, "
						 "size_t len"
					       : "const %P_params *p, void *buf, "
						 "size_t cap"));
		emit_line(E, "return pcg_ckpt_%s(buf, %s, \"%s\", %s_param_info, "
			     "%s_NUM_PARAMS, (int)sizeof(%s), p, NULL, 0);",
			  w ? "load_mem" : "save_mem", w ? "len" : "cap",
			  g->name, E->P, E->PU, E->real);
		emit_fn_end(E);
	}
}

void
emit_api(Emit *E, StrBuf *body)
{
	E->out = body;
	E->ind = "\t";
	sb_printf(body, "\n/* ------------------------------------------------"
			"------------- API */\n");
	data_info(E, body);
	api_check_data(E);
	api_sgd_pool(E);
	api_init(E);
	api_forward(E);
	if (E->g->losses.len) {
		api_grads(E);
		api_end_of_step(E);
		api_train(E);
		emit_opt_api(E);
		api_fazil_ipc(E, body);
		if (emit_has(E, METHOD_PC)) {
			api_energy(E);
			api_targets_near(E);
		}
	}
	api_sgd_ckpt(E);
}

/*
 * P_model: the descriptor of pcg_runtime.h.  Its functions are the API
 * functions behind wrappers that take void * for P_params, P_state and
 * P_opt (calling a function through a pointer of another type is
 * undefined), in the order of PCG_MODEL_FNS; a function the model does
 * not have stays NULL.
 */
enum { NEED_LOSS = 8, NEED_FILES = 16 };

static const struct {
	const char *name, *ret, *params, *args;
	unsigned need; /* METHOD_* bits, all of them, and NEED_* */
} model_fns[] = {
	{"init", "void", "void *p, uint64_t seed", "p, seed", 0},
	{"forward", "%R", "const void *p, void *s", "p, s", 0},
	{"predict", "%R", "const void *p, void *s", "p, s", 0},
	{"grad_bp", "%R", "const void *p, void *s, void *g", "p, s, g",
	 METHOD_BP},
	{"grad_zil", "%R", "const void *p, void *s, void *g", "p, s, g",
	 METHOD_ZIL},
	{"grad_zil_dynamics", "%R", "const void *p, void *s, void *g",
	 "p, s, g", METHOD_ZIL | METHOD_PC},
	{"grad_pc", "%R", "const void *p, void *s, void *g, int steps, %R gamma",
	 "p, s, g, steps, gamma", METHOD_PC},
	{"grad_pc_weighted", "%R", "const void *p, void *s, void *g, int steps, "
	 "%R gamma, %R beta", "p, s, g, steps, gamma, beta", METHOD_PC},
	{"train_bp", "%R", "void *p, void *s, %R lr", "p, s, lr", METHOD_BP},
	{"train_zil", "%R", "void *p, void *s, %R lr", "p, s, lr", METHOD_ZIL},
	{"train_pc", "%R", "void *p, void *s, %R lr, int steps, %R gamma",
	 "p, s, lr, steps, gamma", METHOD_PC},
	{"step_bp", "%R", "void *p, void *o, void *s, const pcg_optim *c",
	 "p, o, s, c", METHOD_BP},
	{"step_zil", "%R", "void *p, void *o, void *s, const pcg_optim *c",
	 "p, o, s, c", METHOD_ZIL},
	{"step_pc", "%R", "void *p, void *o, void *s, const pcg_optim *c, int "
	 "steps, %R gamma", "p, o, s, c, steps, gamma", METHOD_PC},
	{"energy", "%R", "const void *p, const void *s", "p, s", METHOD_PC},
	{"pc_init", "%R", "const void *p, void *s", "p, s", METHOD_PC},
	{"pc_step", "%R", "const void *p, void *s, %R gamma", "p, s, gamma",
	 METHOD_PC},
	{"targets_near", "void", "void *s, %R c", "s, c", METHOD_PC},
	{"sgd", "void", "void *p, const void *g, %R lr", "p, g, lr", 0},
	{"save", "int", "const void *p, const char *path", "p, path",
	 NEED_FILES},
	{"load", "int", "void *p, const char *path", "p, path", NEED_FILES},
	{"save_mem", "size_t", "const void *p, void *buf, size_t cap",
	 "p, buf, cap", 0},
	{"load_mem", "int", "void *p, const void *buf, size_t len",
	 "p, buf, len", 0},
	{"save_opt", "int", "const void *o, const char *path", "o, path",
	 NEED_LOSS | NEED_FILES},
	{"load_opt", "int", "void *o, const char *path", "o, path",
	 NEED_LOSS | NEED_FILES},
	{"check_data", "long", "const void *s", "s", 0},
	/* version 2 */
	{"grad_fazil", "%R", "const void *p, void *s, void *g", "p, s, g",
	 METHOD_ZIL | METHOD_PC},
	{"train_fazil", "%R", "void *p, void *s, %R lr", "p, s, lr",
	 METHOD_ZIL | METHOD_PC},
	{"step_fazil", "%R", "void *p, void *o, void *s, const pcg_optim *c",
	 "p, o, s, c", METHOD_ZIL | METHOD_PC},
	{"train_ipc", "%R", "void *p, void *s, %R lr, int steps, %R gamma",
	 "p, s, lr, steps, gamma", METHOD_PC},
	{"step_ipc", "%R", "void *p, void *o, void *s, const pcg_optim *c, int "
	 "steps, %R gamma", "p, o, s, c, steps, gamma", METHOD_PC},
	{"pc_energies", "%R", "const void *p, const void *s, %R *e", "p, s, e",
	 METHOD_PC},
	/* version 3 */
	{"pc_grad", "%R", "const void *p, void *s, void *g", "p, s, g",
	 METHOD_PC},
};

static int
model_has(const Emit *E, unsigned need)
{
	unsigned m = need & METHOD_ALL;
	if ((need & NEED_LOSS) && !E->g->losses.len)
		return 0;
	return !m || (E->g->losses.len && (E->o->methods & m) == m);
}

void
emit_descriptor(Emit *E, StrBuf *body)
{
	const Graph *g = E->g;
	const char *P = E->P, *PU = E->PU;
	int loss = g->losses.len > 0;
	const size_t nfns = sizeof model_fns / sizeof model_fns[0];
	sb_printf(body, "\n/* ------------------------------------------------"
			"------ descriptor */\n\n/* %s_model(), and the API "
			"functions with void * for %s_params,\n * %s_state and "
			"%s_opt (pcg_model in pcg_runtime.h). */\n",
		  P, P, P, P);
	int files = 0; /* inside #ifndef PCG_NO_FILES */
	for (size_t i = 0; i < nfns; i++) {
		if (!model_has(E, model_fns[i].need))
			continue;
		int f = (model_fns[i].need & NEED_FILES) != 0;
		if (f != files)
			sb_puts(body, f ? "\n#ifndef PCG_NO_FILES" : "#endif\n");
		files = f;
		int isvoid = !strcmp(model_fns[i].ret, "void");
		sb_printf(body, "\nstatic %s\nmodel_%s_(%s)\n{\n\t%s%s_%s(%s);\n"
				"}\n",
			  emit_params(E, model_fns[i].ret), model_fns[i].name,
			  emit_params(E, model_fns[i].params),
			  isvoid ? "" : "return ", P, model_fns[i].name,
			  model_fns[i].args);
	}
	if (files)
		sb_puts(body, "#endif\n");
	sb_printf(body, "\nstatic const pcg_model_fns_%c model_fns_ = {\n",
		  E->is_float ? 'f' : 'd');
	files = 0;
	for (size_t i = 0; i < nfns; i++) {
		if (!model_has(E, model_fns[i].need))
			continue;
		int f = (model_fns[i].need & NEED_FILES) != 0;
		if (f != files)
			sb_puts(body, f ? "#ifndef PCG_NO_FILES\n" : "#endif\n");
		files = f;
		sb_printf(body, "\t.%s = model_%s_,\n", model_fns[i].name,
			  model_fns[i].name);
	}
	sb_puts(body, files ? "#endif\n};\n" : "};\n");

	unsigned methods = loss ? E->o->methods : 0;
	sb_printf(body, "\nstatic const pcg_model model_desc_ = {\n");
	sb_printf(body, "\t.version = PCG_MODEL_VERSION,\n"
			"\t.size = sizeof(pcg_model),\n");
	sb_printf(body, "\t.name = \"%s\",\n\t.prefix = \"%s\",\n", g->name, P);
	sb_printf(body, "\t.batch = %s_BATCH,\n\t.real_size = sizeof(%s),\n",
		  PU, E->real);
	sb_puts(body, "\t.methods = ");
	static const char *const bit[] = {"PCG_METHOD_BP", "PCG_METHOD_ZIL",
					  "PCG_METHOD_PC"};
	const char *sep = "";
	for (int i = 0; i < 3; i++)
		if (methods & (1u << i)) {
			sb_printf(body, "%s%s", sep, bit[i]);
			sep = " | ";
		}
	sb_printf(body, "%s,\n", methods ? "" : "0");
	sb_printf(body, "\t.has_loss = %d,\n\t.depth = %s_DEPTH,\n"
			"\t.identities = %s_IDENTITIES,\n"
			"\t.predict_reads_targets = %s_PREDICT_READS_TARGETS,\n",
		  loss, PU, PU, PU);
	sb_printf(body, "\t.num_params = %s_NUM_PARAMS,\n"
			"\t.num_inputs = %s_NUM_INPUTS,\n"
			"\t.num_targets = %s_NUM_TARGETS,\n"
			"\t.num_outputs = %s_NUM_OUTPUTS,\n",
		  PU, PU, PU, PU);
	int nopt = 0;
	for (int i = 0; loss && i < g->params.len; i++)
		nopt += 2 * !((ParamDecl *)g->params.items[i])->buffer;
	sb_printf(body, "\t.num_opt = %d,\n", nopt);
	sb_printf(body, "\t.num_reals = %s_NUM_REALS,\n"
			"\t.ckpt_bytes = %s_CKPT_BYTES,\n", PU, PU);
	if (loss)
		sb_printf(body, "\t.align = _Alignof(%s_state) > _Alignof(%s_opt) "
				"? _Alignof(%s_state) : _Alignof(%s_opt),\n",
			  P, P, P, P);
	else
		sb_printf(body, "\t.align = _Alignof(%s_state),\n", P);
	sb_printf(body, "\t.params_size = sizeof(%s_params),\n"
			"\t.state_size = sizeof(%s_state),\n", P, P);
	if (loss)
		sb_printf(body, "\t.grad_size = sizeof(%s_params),\n"
				"\t.opt_size = sizeof(%s_opt),\n", P, P);
	sb_printf(body, "\t.param_info = %s_param_info,\n"
			"\t.input_info = %s_input_info,\n"
			"\t.target_info = %s_target_info,\n"
			"\t.output_info = %s_output_info,\n", P, P, P, P);
	if (loss)
		sb_puts(body, "\t.opt_info = opt_info,\n");
	static const char *const part[] = {"in", "target", "out"};
	for (int i = 0; i < 3; i++)
		sb_printf(body, "\t.state_%s = offsetof(%s_state, %s),\n"
				"\t.state_%s_size = sizeof(((%s_state *)0)->%s),\n",
			  part[i], P, part[i], part[i], P, part[i]);
	sb_printf(body, "\t.state_n = offsetof(%s_state, n),\n"
			"\t.state_rng = offsetof(%s_state, rng),\n"
			"\t.state_mode = offsetof(%s_state, mode),\n", P, P, P);
	if (loss)
		sb_printf(body, "\t.opt_step = offsetof(%s_opt, step),\n", P);
	sb_printf(body, "\t.%c = &model_fns_,\n", E->is_float ? 'f' : 'd');
	sb_printf(body, "\t.state_pool = offsetof(%s_state, pool),\n};\n", P);
	sb_printf(body, "\nconst pcg_model *\n%s_model(void)\n{\n\treturn "
			"&model_desc_;\n}\n", P);
}
