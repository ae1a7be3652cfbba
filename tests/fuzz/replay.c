/*
 * replay.c — runs a fuzz target over files without libFuzzer, so that any
 * compiler (gcc included) and any build (sanitized or not) replays the
 * seed corpora and the regression inputs.
 *
 *   replay FILE|DIR...    run the target once on each file (a DIR: on each
 *                         file in it); prints TAP, one line per file
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count;

static int
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		printf("not ok %d - %s: cannot read\n", ++count, path);
		return 1;
	}
	size_t cap = 4096, n = 0, got;
	uint8_t *buf = malloc(cap);
	while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			uint8_t *nb = realloc(buf, cap *= 2);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	fclose(f);
	if (!buf) {
		printf("not ok %d - %s: out of memory\n", ++count, path);
		return 1;
	}
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	printf("ok %d - %s\n", ++count, path);
	fflush(stdout);
	return 0;
}

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char **argv)
{
	int bad = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
			bad |= run_file(argv[i]);
			continue;
		}
		DIR *d = opendir(argv[i]);
		if (!d) {
			printf("not ok %d - %s: cannot open\n", ++count, argv[i]);
			bad = 1;
			continue;
		}
		char **names = NULL;
		size_t nn = 0;
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char **nb = realloc(names, (nn + 1) * sizeof *names);
			if (!nb)
				break;
			names = nb;
			size_t len = strlen(argv[i]) + strlen(e->d_name) + 2;
			names[nn] = malloc(len);
			if (!names[nn])
				break;
			snprintf(names[nn++], len, "%s/%s", argv[i], e->d_name);
		}
		closedir(d);
		if (nn) /* qsort wants a non-null array even for none */
			qsort(names, nn, sizeof *names, cmp);
		for (size_t k = 0; k < nn; k++) {
			bad |= run_file(names[k]);
			free(names[k]);
		}
		free(names);
	}
	printf("1..%d\n", count);
	return bad;
}
