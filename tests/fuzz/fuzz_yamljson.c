/* fuzz_yamljson.c -- libFuzzer harness for core/yamljson.c, the reader of
 * app manifests that any admin (or a vendor's file) hands the hub. Aborts
 * when a refusal does not say why, or when an accepted tree does not
 * survive a JSON round trip unchanged. */
#include "core/yamljson.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256] = "";
	json_t *j = NULL, *back;
	char *text;

	if (yamljson_parse((const char *)data, size, &j, err, sizeof(err)) != MW_OK) {
		if (!err[0] || j)
			abort();
		return 0;
	}
	text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!text)
		abort();
	back = json_loads(text, JSON_DECODE_ANY, NULL);
	if (!back || !json_equal(j, back))
		abort();
	json_decref(back);
	free(text);
	json_decref(j);
	return 0;
}
