/* fuzz_desired.c -- libFuzzer harness for the desired state an edge takes
 * from the hub's heartbeat answer or from DATA_DIR/desired.json
 * (apps_check_desired, edge/apps.h). Aborts when a refusal does not name
 * a field ("path: why"), and when an accepted state lacks what the
 * reconcile loop relies on (each app's runtime with a command or image). */
#include "edge/apps.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[300] = "";
	json_t *d = json_loadb((const char *)data, size, 0, NULL), *apps, *e;
	const char *name;

	if (!d)
		return 0;
	if (apps_check_desired(d, err, sizeof(err)) != MW_OK) {
		if (!strstr(err, ": "))
			abort();
		json_decref(d);
		return 0;
	}
	apps = json_object_get(d, "apps");
	json_object_foreach(apps, name, e)
	{
		json_t *rt = json_object_get(e, "runtime");
		json_t *cmd = json_object_get(json_object_get(rt, "native"), "command");
		json_t *img = json_object_get(json_object_get(rt, "container"), "image");
		if (!(json_array_size(cmd) && json_string_value(json_array_get(cmd, 0))) &&
		    !json_string_value(img))
			abort();
	}
	json_decref(d);
	return 0;
}
