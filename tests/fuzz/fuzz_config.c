/* fuzz_config.c -- libFuzzer harness for the YAML config reader.
 *
 * Config files are written by hand and copied around plants, so the reader
 * must turn any bytes into either settings or an error message, never a
 * crash, a leak or a value outside the table's bounds. The table below has
 * a key of every type, nested two levels, plus a map, the shapes the real
 * daemons' tables use. After a successful load the harness checks what the
 * table promises: numbers within [min, max], strings NUL-terminated within
 * their buffer, enum indexes among the choices, map entries unique. On
 * failure the message must be non-empty and NUL-terminated. */
#include "core/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct settings {
	char name[16];
	char url[64];
	int64_t count;
	int64_t level;
	bool enabled;
	bool verbose;
	int mode;
	int64_t quota;
	int64_t interval;
	struct config_map nodes;
	struct config_map labels;
};

#define OFF(f) offsetof(struct settings, f)

static const struct config_key table[] = {
	{"name", CONF_STRING, OFF(name), sizeof(((struct settings *)0)->name), 0, 0, "edge-1", NULL,
	 "node id"},
	{"uplink.hub_url", CONF_STRING, OFF(url), sizeof(((struct settings *)0)->url), 0, 0, NULL,
	 NULL, "hub"},
	{"uplink.batch.count", CONF_INT, OFF(count), 0, 1, 100000, "500", NULL, "batch"},
	{"level", CONF_INT, OFF(level), 0, -5, 5, "0", NULL, "signed"},
	{"sim.enabled", CONF_BOOL, OFF(enabled), 0, 0, 0, "false", NULL, "sim"},
	{"verbose", CONF_BOOL, OFF(verbose), 0, 0, 0, "yes", NULL, "verbose"},
	{"store.sync", CONF_ENUM, OFF(mode), 0, 0, 0, "normal", "normal|full|off", "sync"},
	{"store.quota", CONF_SIZE, OFF(quota), 0, 0, INT64_MAX, "1G", NULL, "quota"},
	{"uplink.batch.interval", CONF_DURATION, OFF(interval), 0, 10, 3600000, "1s", NULL,
	 "interval"},
	{"nodes", CONF_MAP, OFF(nodes), 0, 0, 0, NULL, NULL, "tokens"},
	{"sim.labels", CONF_MAP, OFF(labels), 0, 0, 0, NULL, NULL, "labels"},
	CONFIG_END,
};

static void check_map(const struct config_map *m)
{
	for (size_t i = 0; i < m->n; i++) {
		if (!m->names[i] || !m->values[i])
			abort();
		for (size_t j = 0; j < i; j++)
			if (strcmp(m->names[i], m->names[j]) == 0)
				abort(); /* duplicates must be refused */
	}
}

static void check_settings(const struct settings *s)
{
	if (!memchr(s->name, '\0', sizeof(s->name)) || !memchr(s->url, '\0', sizeof(s->url)))
		abort();
	if (s->count < 1 || s->count > 100000 || s->level < -5 || s->level > 5)
		abort();
	if (s->mode < 0 || s->mode > 2 || s->quota < 0)
		abort();
	if (s->interval < 10 || s->interval > 3600000)
		abort();
	check_map(&s->nodes);
	check_map(&s->labels);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct settings s;
	char err[256];
	int rc;

	memset(&s, 0, sizeof(s));
	if (config_defaults(table, &s))
		abort(); /* the table's defaults are valid */
	err[0] = '\0';
	rc = config_load_string(table, &s, "fuzz.yaml", (const char *)data, size, err, sizeof(err));
	if (rc == 0)
		check_settings(&s);
	else if (err[0] == '\0' && rc == MW_ERR_INVALID)
		abort(); /* a refusal must say why */
	if (!memchr(err, '\0', sizeof(err)))
		abort();
	config_free(table, &s);
	return 0;
}
