/* fuzz_manifest.c -- libFuzzer harness for app manifests: the YAML reader
 * (core/yamljson.c) and then manifest_check() (hub/manifest.c), as POST
 * /v1/apps runs them on what an admin or a vendor hands in. Aborts when a
 * refusal does not name a field ("path: why"), and when an accepted
 * manifest lacks what the catalog relies on (name, version, a runtime). */
#include "core/yamljson.h"
#include "hub/manifest.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[300] = "";
	json_t *m = NULL;

	if (yamljson_parse((const char *)data, size, &m, err, sizeof(err)) != MW_OK)
		return 0;
	if (manifest_check(m, err, sizeof(err)) != MW_OK) {
		if (!strstr(err, ": "))
			abort();
	} else if (!json_string_value(json_object_get(m, "name")) ||
		   !json_string_value(json_object_get(m, "version")) ||
		   !json_is_object(json_object_get(m, "runtime"))) {
		abort();
	}
	json_decref(m);
	return 0;
}
