/*
 * ckpt_seeds.c — writes the seed checkpoints of the fuzz_ckpt corpus into
 * a folder: a float and a double checkpoint of the fuzzed model.
 */
#include <stdio.h>

#include "ckd.h"
#include "ckf.h"

int
main(int argc, char **argv)
{
	ckf_params pf;
	ckd_params pd;
	char path[4096];
	if (argc != 2) {
		fprintf(stderr, "usage: ckpt_seeds DIR\n");
		return 2;
	}
	ckf_init(&pf, 1);
	ckd_init(&pd, 2);
	snprintf(path, sizeof path, "%s/float.ckpt", argv[1]);
	if (ckf_save(&pf, path) != 0)
		return 1;
	snprintf(path, sizeof path, "%s/double.ckpt", argv[1]);
	return ckd_save(&pd, path) != 0;
}
