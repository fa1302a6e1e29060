/* fuzz_model.c -- libFuzzer harness for inspection model files.
 *
 * A model file is copied between edges by hand and may be from another
 * camera, truncated by a full disk or simply something else; the parser
 * must turn any bytes into a model or a message, never a crash. Because a
 * SHA-256 guards the file, random mutations mostly test the checksum path;
 * the corpus therefore holds valid models (whose fields a fuzzer with
 * -use_value_profile still cannot change without fixing the hash) and the
 * harness also re-seals every input with a fresh checksum so the header
 * checks behind it are reached. An accepted model must work: an inspector
 * is built from it and scores a blank image of its ROI's size. */
#include "core/hash.h"
#include "vision/inspect.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void try_parse(const uint8_t *data, size_t size)
{
	struct inspect_model *m = NULL;
	struct inspector *ins = NULL;
	struct inspect_options opt = {0};
	struct plane img;
	struct bbox box;
	double score;
	char err[256] = "";

	if (inspect_model_parse(data, size, &m, err, sizeof(err))) {
		if (m || !err[0] || !memchr(err, 0, sizeof(err)))
			abort(); /* a refusal says why, and leaves nothing behind */
		return;
	}
	if (inspect_new(&opt, m, &ins, err, sizeof(err))) {
		if (!err[0])
			abort();
		return;
	}
	box = inspect_model_roi(m);
	if (plane_alloc(&img, box.w, box.h) == 0) {
		if (inspect_score(ins, &img, &score, &box) || score < 0)
			abort();
		plane_free(&img);
	}
	inspect_free(ins);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	try_parse(data, size);
	if (size < HASH_LEN || size > (4u << 20))
		return 0;
	copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	hash_sha256(copy, size - HASH_LEN, copy + size - HASH_LEN);
	try_parse(copy, size);
	free(copy);
	return 0;
}
