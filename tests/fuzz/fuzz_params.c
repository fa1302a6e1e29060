/* fuzz_params.c -- libFuzzer harness for a deployment's parameters
 * (manifest_params, hub/manifest.h), as POST /v1/deployments reads what an
 * operator sends against the app's manifest. The input is the params
 * object (JSON). Aborts when a refusal does not name "params.NAME" or
 * "params", and when an accepted set breaks the manifest's own rules. */
#include "hub/manifest.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char manifest[] =
	"{\"name\":\"qa\",\"version\":\"1.0\",\"vendor\":\"v\","
	"\"runtime\":{\"native\":{\"command\":[\"/bin/true\"]}},"
	"\"parameters\":{\"threshold\":{\"type\":\"number\",\"default\":0.5,\"min\":0,\"max\":1},"
	"\"count\":{\"type\":\"integer\",\"min\":1},"
	"\"mode\":{\"type\":\"enum\",\"choices\":[\"fast\",\"exact\"],\"default\":\"fast\"},"
	"\"debug\":{\"type\":\"boolean\",\"default\":false},"
	"\"key\":{\"type\":\"string\",\"secret\":true,\"default\":\"\"}}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *m = json_loads(manifest, 0, NULL), *given, *out = NULL, *t;
	char err[300] = "";

	given = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (!m || manifest_check(m, err, sizeof(err)))
		abort();
	if (manifest_params(m, given, &out, err, sizeof(err)) != MW_OK) {
		if (strncmp(err, "params", 6) != 0 || out)
			abort();
	} else {
		t = json_object_get(out, "threshold");
		if (!json_is_number(t) || json_number_value(t) < 0 || json_number_value(t) > 1 ||
		    !json_is_integer(json_object_get(out, "count")) ||
		    json_integer_value(json_object_get(out, "count")) < 1 ||
		    !json_is_boolean(json_object_get(out, "debug")))
			abort();
	}
	json_decref(out);
	json_decref(given);
	json_decref(m);
	return 0;
}
