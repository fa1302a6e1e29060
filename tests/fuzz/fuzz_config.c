/* fuzz_config.c -- libFuzzer harness for the YAML config reader.
 *
 * Config files are written by hand and copied around plants, so the reader
 * must turn any bytes into either settings or an error message, never a
 * crash, a leak or a value outside the table's bounds. The table below has
 * a key of every type, nested two levels, plus a map, and a list of cameras
 * whose elements hold points, a rect, a number and a nested list of zones,
 * the shapes the real daemons' tables use. After a successful load the
 * harness checks what the table promises: numbers within [min, max],
 * strings NUL-terminated within their buffer, enum indexes among the
 * choices, map entries unique, list lengths and point counts within their
 * caps. On failure the message must be non-empty and NUL-terminated; ASan
 * reports any element or map a refused list left behind. */
#include "core/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct zone {
	char id[8];
	struct config_points polygon;
	struct config_points line;
	double score;
	struct config_map labels;
};

struct camera {
	char id[8];
	int64_t rate;
	struct config_rect roi;
	double threshold;
	struct config_points mask;
	struct config_list zones;
};

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
	double scale;
	struct config_rect crop;
	struct config_list cameras;
};

#define OFF(f) offsetof(struct settings, f)
#define ZO(f) offsetof(struct zone, f)
#define CO(f) offsetof(struct camera, f)

static const struct config_key zone_keys[] = {
	{.name = "id", .type = CONF_STRING, .offset = ZO(id), .size = 8, .help = "id"},
	{.name = "polygon", .type = CONF_POINTS, .offset = ZO(polygon), .min = 3, .max = 8,
	 .help = "outline"},
	{.name = "line", .type = CONF_POINTS, .offset = ZO(line), .min = 2, .max = 2,
	 .help = "line"},
	{.name = "score.min", .type = CONF_DOUBLE, .offset = ZO(score), .def = "0.5", .dmin = 0,
	 .dmax = 1, .help = "score"},
	{.name = "labels", .type = CONF_MAP, .offset = ZO(labels), .help = "labels"},
	CONFIG_END,
};

static const struct config_key camera_keys[] = {
	{.name = "id", .type = CONF_STRING, .offset = CO(id), .size = 8, .help = "id"},
	{.name = "rate", .type = CONF_INT, .offset = CO(rate), .min = 1, .max = 60, .def = "10",
	 .help = "fps"},
	{.name = "roi", .type = CONF_RECT, .offset = CO(roi), .def = "0,0,64,48", .help = "roi"},
	{.name = "inspect.threshold", .type = CONF_DOUBLE, .offset = CO(threshold), .def = "0.5",
	 .dmin = -1, .dmax = 1, .help = "threshold"},
	{.name = "mask", .type = CONF_POINTS, .offset = CO(mask), .min = 3, .max = 32,
	 .help = "mask"},
	{.name = "zones", .type = CONF_LIST, .offset = CO(zones), .max = 3, .sub = zone_keys,
	 .elem_size = sizeof(struct zone), .help = "zones"},
	CONFIG_END,
};

static const struct config_key table[] = {
	{"name", CONF_STRING, OFF(name), sizeof(((struct settings *)0)->name), 0, 0, "edge-1", NULL,
	 "node id", NULL, 0, 0, 0},
	{"uplink.hub_url", CONF_STRING, OFF(url), sizeof(((struct settings *)0)->url), 0, 0, NULL,
	 NULL, "hub", NULL, 0, 0, 0},
	{"uplink.batch.count", CONF_INT, OFF(count), 0, 1, 100000, "500", NULL, "batch",
	 NULL, 0, 0, 0},
	{"level", CONF_INT, OFF(level), 0, -5, 5, "0", NULL, "signed", NULL, 0, 0, 0},
	{"sim.enabled", CONF_BOOL, OFF(enabled), 0, 0, 0, "false", NULL, "sim", NULL, 0, 0, 0},
	{"verbose", CONF_BOOL, OFF(verbose), 0, 0, 0, "yes", NULL, "verbose", NULL, 0, 0, 0},
	{"store.sync", CONF_ENUM, OFF(mode), 0, 0, 0, "normal", "normal|full|off", "sync",
	 NULL, 0, 0, 0},
	{"store.quota", CONF_SIZE, OFF(quota), 0, 0, INT64_MAX, "1G", NULL, "quota", NULL, 0, 0, 0},
	{"uplink.batch.interval", CONF_DURATION, OFF(interval), 0, 10, 3600000, "1s", NULL,
	 "interval", NULL, 0, 0, 0},
	{"nodes", CONF_MAP, OFF(nodes), 0, 0, 0, NULL, NULL, "tokens", NULL, 0, 0, 0},
	{"sim.labels", CONF_MAP, OFF(labels), 0, 0, 0, NULL, NULL, "labels", NULL, 0, 0, 0},
	{.name = "scale", .type = CONF_DOUBLE, .offset = OFF(scale), .def = "1", .dmin = 0.25,
	 .dmax = 8, .help = "scale"},
	{.name = "sim.crop", .type = CONF_RECT, .offset = OFF(crop), .help = "crop"},
	{.name = "cameras", .type = CONF_LIST, .offset = OFF(cameras), .max = 4, .sub = camera_keys,
	 .elem_size = sizeof(struct camera), .help = "cameras"},
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

static void check_points(const struct config_points *p, int min, int max)
{
	if (p->n != 0 && (p->n < min || p->n > max))
		abort();
	for (int i = 0; i < 2 * p->n; i++)
		if (p->xy[i] < -CONFIG_COORD_MAX || p->xy[i] > CONFIG_COORD_MAX)
			abort();
}

static void check_rect(const struct config_rect *r, bool set)
{
	if ((set || r->w || r->h) && (r->w < 1 || r->h < 1 || r->w > CONFIG_COORD_MAX ||
				      r->h > CONFIG_COORD_MAX))
		abort();
}

static void check_camera(const struct camera *c)
{
	if (!memchr(c->id, '\0', sizeof(c->id)) || c->rate < 1 || c->rate > 60)
		abort();
	if (!(c->threshold >= -1 && c->threshold <= 1) || c->zones.n > 3)
		abort();
	check_rect(&c->roi, true);
	check_points(&c->mask, 3, 32);
	for (size_t i = 0; i < c->zones.n; i++) {
		const struct zone *z = CONFIG_LIST_AT(&c->zones, struct zone, i);
		if (!memchr(z->id, '\0', sizeof(z->id)) || !(z->score >= 0 && z->score <= 1))
			abort();
		check_points(&z->polygon, 3, 8);
		check_points(&z->line, 2, 2);
		check_map(&z->labels);
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
	if (!(s->scale >= 0.25 && s->scale <= 8) || s->cameras.n > 4)
		abort();
	check_rect(&s->crop, false);
	for (size_t i = 0; i < s->cameras.n; i++)
		check_camera(CONFIG_LIST_AT(&s->cameras, struct camera, i));
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
	if (s.cameras.n || s.cameras.items || s.nodes.n)
		abort(); /* freed lists and maps are left empty */
	return 0;
}
