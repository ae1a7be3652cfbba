/*
 * emit_layout.c — the buffers of the generated state.
 *
 * Takes the levelled graph; gives every node its value buffer (s->v, or
 * the data and outputs of the contract), its BP adjoint (s->d) and, for
 * PC, its prediction and error (s->pc.mu, s->pc.e); PC vertices get value
 * nodes, deviations and feedback (s->pc.x, dev, fb).  Buffers are grouped
 * by name, so a vertex family h[t] is one array.  Writes the
 * declarations.
 */
#include <string.h>

#include "emit.h"


typedef struct Group Group;
struct Group {
	const char *name; /* C member */
	const char *base;
	Shape shape;
	int batched;
	int count;
	int outcopy; /* identity copies of outputs: only an error node */
	int alone;   /* a group of one node */
	int ordinal; /* 1 + the groups of its base before it */
	int index;   /* in its GroupSet */
	Group *same; /* next in its GroupSet's hash chain */
};

/* Groups in order, with a hash index by base name. */
typedef struct GroupSet {
	PtrVec v;
	Group **bucket;
	int nbucket;
} GroupSet;

static uint32_t
group_hash(const GroupSet *set, const char *base)
{
	return (uint32_t)util_hash(base, strlen(base), 0) &
	       (uint32_t)(set->nbucket - 1);
}

/* Assign every live non-leaf node a member of the state's `v` struct (its
 * forward value), `d` (BP adjoint) and, for PC, `pc.mu` / `pc.e` (current
 * prediction and error); PC vertices get `pc.x` / `pc.dev` / `pc.fb`
 * (value node, its deviation from the forward pass, error feedback), and
 * identity vertices their own groups.  Writes the declarations. */
static Group *
find_group(Emit *E, GroupSet *set, const char *base, const Shape *sh,
	   int batched, int alone)
{
	/* groups of one base are named base, base_2, base_3, ...: the
	 * newest comes first in its chain and knows how many there are */
	int same = 0;
	if (set->nbucket)
		for (Group *x = set->bucket[group_hash(set, base)]; x;
		     x = x->same) {
			if (strcmp(x->base, base) != 0)
				continue;
			if (!same)
				same = x->ordinal;
			if (alone)
				break;
			if (!x->alone && shape_equal(&x->shape, sh) &&
			    x->batched == batched)
				return x;
		}
	Group *grp = arena_alloc(E->a, sizeof *grp);
	grp->base = base;
	grp->shape = *sh;
	grp->batched = batched;
	grp->alone = alone;
	grp->ordinal = same + 1;
	const char *nm = same ? arena_printf(E->a, "%s_%d", base, same + 1)
			      : base;
	grp->name = emit_member(E, nm);
	grp->index = set->v.len;
	vec_push(E->a, &set->v, grp);
	if (set->v.len > set->nbucket) { /* grow the index */
		set->nbucket = set->nbucket ? set->nbucket * 2 : 64;
		set->bucket = arena_alloc(E->a, sizeof *set->bucket *
						       (size_t)set->nbucket);
		for (int k = 0; k < set->v.len - 1; k++) {
			Group *x = set->v.items[k];
			uint32_t h = group_hash(set, x->base);
			x->same = set->bucket[h];
			set->bucket[h] = x;
		}
	}
	uint32_t h = group_hash(set, base);
	grp->same = set->bucket[h];
	set->bucket[h] = grp;
	return grp;
}

/* A member of v or d for the memory plan (emit_plan.c). */
static void
plan_decl(Emit *E, char part, const char *name, int64_t reals,
	  const char *line)
{
	PlanDecl *d = arena_alloc(E->a, sizeof *d);
	d->part = part;
	d->name = name;
	d->line = line;
	d->reals = reals;
	d->order = E->decls.len;
	vec_push(E->a, &E->decls, d);
}

/* Declare the marked groups: into sb, or as members of part (v or d) for
 * the memory plan when part is not 0. */
static int
decl_groups(Emit *E, StrBuf *sb, char part, const PtrVec *groups,
	    const char *mark, const char *ind)
{
	int n = 0;
	for (int k = 0; k < groups->len; k++) {
		Group *x = groups->items[k];
		if (mark && !mark[k])
			continue;
		const char *arr = x->count > 1
			? arena_printf(E->a, "[%d]", x->count) : "";
		int64_t reals = (int64_t)x->count * shape_numel(&x->shape) *
				(x->batched ? E->o->batch : 1);
		const char *line = arena_printf(E->a, "%s %s%s%s; /* %s */",
			E->real, x->name, arr,
			emit_flat_dims(E, &x->shape, x->batched),
			shape_str(E->a, &x->shape));
		if (part)
			plan_decl(E, part, x->name, reals, line);
		else
			sb_printf(sb, "%s%s\n", ind, line);
		E->state_reals += reals;
		n++;
	}
	return n;
}

void
emit_layout(Emit *E, StrBuf *pcdecl)
{
	const Graph *g = E->g;
	GroupSet groups = {0};
	int nn = g->nodes.len;
	Group **gof = arena_alloc(E->a, sizeof(Group *) * (size_t)(nn + 1));
	int *gidx = arena_alloc(E->a, sizeof(int) * (size_t)(nn + 1));
	char *is_out = arena_alloc(E->a, (size_t)nn + 1);
	for (int i = 0; i < g->outputs.len; i++) {
		OutputDecl *o = g->outputs.items[i];
		if (!o->node->batched)
			continue; /* lives in v, copied to every row of out */
		is_out[o->node->id] = 1;
		E->val[o->node->id] = emit_whole(
			E, "", arena_printf(E->a, "s->out.%s",
					    emit_member(E, o->name)),
			&o->node->shape, 1);
	}
	for (int i = 0; i < nn; i++) {
		Node *n = g->nodes.items[i];
		if (op_is_leaf(n->op) && n->op != OP_CONST)
			continue;
		if (!n->live)
			continue;
		const char *base = n->member ? n->member : "c";
		if (n->op == OP_CONST)
			base = n->value == 0 ? "zeros"
			       : n->value == 1 ? "ones" : "konst";
		else if (n->in_loss)
			base = arena_printf(E->a, "loss_%s", op_name[n->op]);
		else if (n->vertex && n->vertex->root != n)
			base = arena_printf(E->a, "%s_%s", base, op_name[n->op]);
		/* only a family h[t] of the model shares one array; every
		 * other node has a member of its own, so that the memory plan
		 * can give each its own lifetime */
		int alone = n->index < 0 && !n->in_loss;
		/* rolled loops (--unroll loops) index a buffer by the
		 * iteration: the operations of a family's vertices share an
		 * array per name and shape, like the family itself */
		if (E->loops && n->vertex && n->vertex->root &&
		    n->vertex->root->index >= 0)
			alone = 0;
		Group *grp = find_group(E, &groups, base, &n->shape, n->batched,
					alone);
		gof[i] = grp;
		gidx[i] = grp->count++;
	}
	int ng = groups.v.len;
	char *need_d = arena_alloc(E->a, (size_t)ng + 1);
	char *need_pc = arena_alloc(E->a, (size_t)ng + 1);
	char *need_x = arena_alloc(E->a, (size_t)ng + 1);
	char *need_v = arena_alloc(E->a, (size_t)ng + 1); /* not all in out */
	for (int i = 0; i < nn; i++) {
		Node *n = g->nodes.items[i];
		if (!gof[i])
			continue;
		int k = gof[i]->index;
		if (n->needs_grad)
			need_d[k] = 1;
		if (!is_out[i])
			need_v[k] = 1;
		if (n->pcv)
			need_pc[k] = 1;
		if (n->pcv && n->pcv->root == n && !n->pcv->is_output)
			need_x[k] = 1;
		const char *idx = gof[i]->count > 1
			? arena_printf(E->a, "[%d]", gidx[i]) : "";
		E->mem[i] = arena_printf(E->a, "%s%s", gof[i]->name, idx);
		if (!is_out[i])
			E->val[i] = arena_printf(E->a, "s->v.%s", E->mem[i]);
		if (n->needs_grad)
			E->adj[i] = arena_printf(E->a, "s->d.%s", E->mem[i]);
	}
	for (int i = 0; i < nn; i++) {
		Node *n = g->nodes.items[i];
		if (n->op == OP_INPUT || n->op == OP_TARGET) {
			DataDecl *d = n->op == OP_INPUT ? g->inputs.items[n->decl]
						       : g->targets.items[n->decl];
			const char *m = arena_printf(E->a, "s->%s.%s",
					n->op == OP_INPUT ? "in" : "target",
					emit_member(E, d->name));
			E->val[i] = !d->is_int ? emit_whole(E, "", m, &n->shape, 1)
				: n->shape.rank ? arena_printf(E->a,
						"(const int32_t *)%s", m) : m;
		} else if (n->op == OP_PARAM) {
			ParamDecl *d = g->params.items[n->decl];
			const char *m = emit_member(E, d->name);
			E->val[i] = emit_whole(E, "const ",
					  arena_printf(E->a, "p->%s", m),
					  &n->shape, 0);
			E->adj[i] = emit_whole(E, "", arena_printf(E->a, "g->%s", m),
					  &n->shape, 0);
		}
	}
	/* identity vertices: a group per chain top's group */
	GroupSet idgroups = {0};
	for (int i = 0; i < g->pcv.len; i++) {
		PcVertex *v = g->pcv.items[i];
		if (v->root)
			continue;
		Node *top = v->top->root;
		const char *base = arena_printf(E->a, "%s_%s", gof[top->id]->name,
						v->is_output ? "out" : "id");
		Group *grp = find_group(E, &idgroups, base, &top->shape,
					top->batched, 0);
		grp->outcopy = v->is_output;
		E->idmem[v->id] = (void *)grp;
		E->idx[v->id] = grp->count++;
	}
	for (int i = 0; i < g->pcv.len; i++) {
		PcVertex *v = g->pcv.items[i];
		if (v->root)
			continue;
		Group *grp = (Group *)E->idmem[v->id];
		const char *idx = grp->count > 1
			? arena_printf(E->a, "[%d]", E->idx[v->id]) : "";
		E->idmem[v->id] = arena_printf(E->a, "%s%s", grp->name, idx);
	}
	decl_groups(E, NULL, 'v', &groups.v, need_v, NULL);
	/* the one-sample scratch of ops that use one (im2col columns, and
	 * a convolution's dK summed over a block of samples) */
	int64_t col = 0;
	for (int i = 0; i < nn; i++) {
		Node *n = g->nodes.items[i];
		if (op_defs[n->op].scratch && n->live &&
		    op_defs[n->op].scratch(n) > col)
			col = op_defs[n->op].scratch(n);
	}
	if (col) {
		plan_decl(E, 'v', "im2col_", col,
			  arena_printf(E->a, "%s im2col_[%lld]; /* im2col "
				       "columns of one sample, then dK's "
				       "block sum: every convolution's */",
				       E->real,
				       (long long)col));
		E->state_reals += col;
	}
	/* batchnorm's batch statistics, dropout's masks */
	for (int i = 0; i < nn; i++) {
		Node *n = g->nodes.items[i];
		if (!n->live || (n->op != OP_BATCHNORM && n->op != OP_DROPOUT))
			continue;
		const char *m = emit_c_member(E, E->mem[i]);
		if (n->op == OP_DROPOUT) {
			int64_t r = (n->batched ? E->o->batch : 1) *
				    shape_numel(&n->shape);
			plan_decl(E, 'v', arena_printf(E->a, "%s_mask", m), r,
				  arena_printf(E->a, "%s %s_mask%s; /* 0 or "
					       "1/(1-p) */", E->real, m,
					       emit_flat_dims(E, &n->shape,
							      n->batched)));
			E->state_reals += r;
			continue;
		}
		for (int w = 0; w < 2; w++) {
			const char *nm = arena_printf(E->a, "%s_%s", m,
						      w ? "var" : "mean");
			plan_decl(E, 'v', nm, n->shape.dim[0],
				  arena_printf(E->a, "%s %s[%lld]; /* the "
					       "batch's, per channel */",
					       E->real, nm,
					       (long long)n->shape.dim[0]));
		}
		E->state_reals += 2 * n->shape.dim[0];
	}
	E->reals_v = E->state_reals;
	if (!g->losses.len)
		return;
	decl_groups(E, NULL, 'd', &groups.v, need_d, NULL);
	E->reals_d = E->state_reals - E->reals_v;
	static const struct {
		const char *name, *what;
		int x;
	} parts[] = {
		{"x", "value nodes x_i of the PC vertices", 1},
		{"dev", "deviations x_i - mu_i(0) (value nodes as mu(0) + dev)", 1},
		{"fb", "error feedback: sum over children c of J_c^T eps_c", 1},
		{"mu", "predictions mu of every operation, from the value nodes", 0},
		{"e", "errors eps_i = x_i - mu_i at vertex roots, and their "
		      "VJP through each vertex's operations", 0},
	};
	for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
		StrBuf sb = {0};
		sb_puts(&sb, "");
		int n = decl_groups(E, &sb, 0, &groups.v,
				    parts[k].x ? need_x : need_pc, "\t\t\t");
		/* identities: value node, deviation, feedback and error */
		if (strcmp(parts[k].name, "mu") != 0) {
			PtrVec only = {0};
			for (int j = 0; j < idgroups.v.len; j++) {
				Group *x = idgroups.v.items[j];
				if (!x->outcopy || strcmp(parts[k].name, "e") == 0)
					vec_push(E->a, &only, x);
			}
			n += decl_groups(E, &sb, 0, &only, NULL, "\t\t\t");
		}
		if (!n)
			sb_puts(&sb, "\t\t\tchar none_;\n");
		sb_printf(pcdecl, "\t\tstruct { /* %s */\n%s\t\t} %s;\n",
			  parts[k].what, sb.data, parts[k].name);
		sb_free(&sb);
	}
	for (int i = 0; i < nn; i++) {
		Node *n = g->nodes.items[i];
		if (!n->live || n->op != OP_BATCHNORM)
			continue;
		for (int w = 0; w < 2; w++)
			sb_printf(pcdecl, "\t\t%s %s_%s[%lld]; /* batch statistics "
				  "of the value nodes */\n", E->real,
				  emit_c_member(E, E->mem[i]), w ? "var" : "mean",
				  (long long)n->shape.dim[0]);
		E->state_reals += 2 * n->shape.dim[0];
	}
	E->reals_pc = E->state_reals - E->reals_v - E->reals_d;
}
