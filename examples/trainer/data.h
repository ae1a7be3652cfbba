/*
 * data.h — the trainer's data sets: images as floats in [0, 1] with class
 * labels, read from the digits CSV (gzip or plain) or from Fashion-MNIST's
 * IDX files (gzip or plain), through zlib.
 */
#ifndef TRAINER_DATA_H
#define TRAINER_DATA_H

#include <stddef.h>

typedef struct dataset {
	int n;          /* samples */
	int features;   /* floats per sample */
	int classes;
	float *x;       /* n * features, row-major */
	unsigned char *label; /* n labels in 0 .. classes-1 */
} dataset;

/* Each returns 0, or -1 after printing "FILE: what is wrong" to stderr.
 * The digits file is split into train (4 of every 5 rows) and test (the
 * 5th); Fashion-MNIST comes split.  Its 28x28 images are centred in
 * side x side images (side >= 28) with a border of zeros: 32 for networks
 * made for 32x32 images. */
int data_load_digits(const char *path, dataset *train, dataset *test);
int data_load_fashion(const char *dir, int side, dataset *train,
		      dataset *test);

/* keep the first n samples (n <= d->n) */
void data_truncate(dataset *d, int n);
void data_free(dataset *d);

#endif
