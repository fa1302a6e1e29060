/* fuzz_engine.c -- libFuzzer harness for the two container engine answers
 * the edge parses (edge/engine.c): GET /containers/NAME/json and the log
 * stream. The engine is local, but it relays what apps print, and a broken
 * or hostile engine must not take the daemon down with it.
 *
 * The first byte picks the parser (even: inspect, odd: logs); for the logs
 * the second byte is the tail (255 = all). Aborts when an inspect refusal
 * does not name a field ("State.ExitCode: ...") or an accepted one holds
 * impossible values; when a log refusal appended lines; when a line holds a
 * newline; and when the last `tail` lines differ from the end of all of
 * them, which is what tail promises. */
#include "edge/engine.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void inspect(const char *data, size_t size)
{
	struct engine_state st;
	char err[256] = "";

	if (engine_parse_state(data, size, &st, err, sizeof(err)) != MW_OK) {
		if (!strstr(err, ": ") || st.exists)
			abort();
		return;
	}
	if (!st.exists || st.started_at_ns < 0 || st.finished_at_ns < 0 ||
	    strlen(st.status) >= sizeof(st.status) || strlen(st.image) >= sizeof(st.image))
		abort();
}

static void logs(const char *data, size_t size, int tail)
{
	json_t *all = json_array(), *last = json_array(), *v;
	int rc = engine_demux_logs(data, size, -1, all);
	size_t n = json_array_size(all), k, i;

	if (rc != engine_demux_logs(data, size, tail, last))
		abort();
	k = json_array_size(last);
	if (rc != MW_OK && (n || k))
		abort();
	if (rc == MW_OK && k != (tail >= 0 && (size_t)tail < n ? (size_t)tail : n))
		abort();
	json_array_foreach(last, i, v)
	{
		if (!json_is_string(v) ||
		    memchr(json_string_value(v), '\n', json_string_length(v)) ||
		    !json_equal(v, json_array_get(all, n - k + i)))
			abort();
	}
	json_decref(all);
	json_decref(last);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (!(data[0] & 1))
		inspect((const char *)data + 1, size - 1);
	else if (size >= 2)
		logs((const char *)data + 2, size - 2, data[1] == 255 ? -1 : data[1]);
	return 0;
}
