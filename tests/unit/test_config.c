/* test_config.c -- the table-driven YAML config reader.
 *
 * What an operator notices about config is whether a good file gives the
 * settings they wrote and a bad one gives a message that points at the
 * line and the key. So each test loads YAML text over a small table with a
 * key of every type and checks the resulting settings, or the exact
 * "file:line: key: cause" text of the refusal. */
#include "core/config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

struct settings {
	char node[16];
	char hub_url[64];
	int64_t batch;
	int64_t offset;
	bool sim;
	bool compress;
	int sync;
	int64_t quota;
	int64_t interval;
	struct config_map nodes;
};

#define OFF(f) offsetof(struct settings, f)

static const struct config_key table[] = {
	{"node.id", CONF_STRING, OFF(node), sizeof(((struct settings *)0)->node), 0, 0, "edge-1",
	 NULL, "this edge's id", NULL, 0, 0, 0},
	{"uplink.hub_url", CONF_STRING, OFF(hub_url), sizeof(((struct settings *)0)->hub_url), 0, 0,
	 NULL, NULL, "the hub", NULL, 0, 0, 0},
	{"uplink.batch_events", CONF_INT, OFF(batch), 0, 1, 100, "50", NULL, "events per batch",
	 NULL, 0, 0, 0},
	{"offset", CONF_INT, OFF(offset), 0, -10, 10, NULL, NULL, "signed", NULL, 0, 0, 0},
	{"sim.enabled", CONF_BOOL, OFF(sim), 0, 0, 0, "false", NULL, "simulate", NULL, 0, 0, 0},
	{"uplink.compress", CONF_BOOL, OFF(compress), 0, 0, 0, "true", NULL, "zstd", NULL, 0, 0, 0},
	{"store.sync", CONF_ENUM, OFF(sync), 0, 0, 0, "normal", "normal|full", "durability",
	 NULL, 0, 0, 0},
	{"store.quota", CONF_SIZE, OFF(quota), 0, 1024, INT64_C(1) << 40, "1G", NULL, "disk",
	 NULL, 0, 0, 0},
	{"uplink.interval", CONF_DURATION, OFF(interval), 0, 10, 3600000, "1s", NULL, "pace",
	 NULL, 0, 0, 0},
	{"nodes", CONF_MAP, OFF(nodes), 0, 0, 0, NULL, NULL, "node id -> token", NULL, 0, 0, 0},
	CONFIG_END,
};

static int setup(void **state)
{
	struct settings *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	assert_int_equal(config_defaults(table, s), MW_OK);
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	config_free(table, *state);
	free(*state);
	return 0;
}

static int load(struct settings *s, const char *text, char *err, size_t errlen)
{
	err[0] = '\0';
	return config_load_string(table, s, "edge.yaml", text, strlen(text), err, errlen);
}

/* Loads text and expects exactly the message want. */
static void expect_error(struct settings *s, const char *text, const char *want)
{
	char err[512];
	int rc = load(s, text, err, sizeof(err));
	if (rc == MW_OK)
		fail_msg("accepted, expected \"%s\":\n%s", want, text);
	assert_string_equal(err, want);
}

static void defaults_apply(void **state)
{
	struct settings *s = *state;
	assert_string_equal(s->node, "edge-1");
	assert_string_equal(s->hub_url, "");
	assert_int_equal(s->batch, 50);
	assert_int_equal(s->offset, 0);
	assert_false(s->sim);
	assert_true(s->compress);
	assert_int_equal(s->sync, 0);
	assert_int_equal(s->quota, 1 << 30);
	assert_int_equal(s->interval, 1000);
	assert_int_equal(s->nodes.n, 0);
}

static void every_type_loads(void **state)
{
	struct settings *s = *state;
	char err[512];
	const char *yaml = "node:\n"
			   "  id: press-7\n"
			   "uplink:\n"
			   "  hub_url: \"https://hub.plant:7800\"\n"
			   "  batch_events: 100\n"
			   "  compress: off\n"
			   "  interval: 250ms\n"
			   "offset: -10\n"
			   "sim: {enabled: yes}\n"
			   "store:\n"
			   "  sync: full\n"
			   "  quota: 64M\n"
			   "nodes:\n"
			   "  edge-1: tok1\n"
			   "  edge-2: \"tok 2\"\n";

	assert_int_equal(load(s, yaml, err, sizeof(err)), MW_OK);
	assert_string_equal(s->node, "press-7");
	assert_string_equal(s->hub_url, "https://hub.plant:7800");
	assert_int_equal(s->batch, 100);
	assert_int_equal(s->offset, -10);
	assert_true(s->sim);
	assert_false(s->compress);
	assert_int_equal(s->sync, 1);
	assert_int_equal(s->quota, 64 << 20);
	assert_int_equal(s->interval, 250);
	assert_int_equal(s->nodes.n, 2);
	assert_string_equal(config_map_get(&s->nodes, "edge-1"), "tok1");
	assert_string_equal(config_map_get(&s->nodes, "edge-2"), "tok 2");
	assert_null(config_map_get(&s->nodes, "edge-3"));
}

static void units_scale(void **state)
{
	static const struct {
		const char *key, *value;
		int64_t want;
	} cases[] = {
		{"store.quota", "2048", 2048},		 {"store.quota", "4K", 4096},
		{"store.quota", "4KiB", 4096},		 {"store.quota", "3MB", 3 << 20},
		{"store.quota", "2G", INT64_C(2) << 30}, {"store.quota", "2048B", 2048},
		{"uplink.interval", "10ms", 10},	 {"uplink.interval", "90s", 90000},
		{"uplink.interval", "5m", 300000},	 {"uplink.interval", "1h", 3600000},
	};
	struct settings *s = *state;
	char err[256];

	for (size_t i = 0; i < MW_ARRAY_LEN(cases); i++) {
		int64_t *field =
			strcmp(cases[i].key, "store.quota") == 0 ? &s->quota : &s->interval;
		assert_int_equal(
			config_set(table, s, cases[i].key, cases[i].value, err, sizeof(err)),
			MW_OK);
		if (*field != cases[i].want)
			fail_msg("%s=%s gave %lld", cases[i].key, cases[i].value,
				 (long long)*field);
	}
}

static void bools_spelled_many_ways(void **state)
{
	static const char *yes[] = {"true", "yes", "on"}, *no[] = {"false", "no", "off"};
	struct settings *s = *state;
	char err[256];

	for (size_t i = 0; i < MW_ARRAY_LEN(yes); i++) {
		assert_int_equal(config_set(table, s, "sim.enabled", yes[i], err, sizeof(err)),
				 MW_OK);
		assert_true(s->sim);
		assert_int_equal(config_set(table, s, "sim.enabled", no[i], err, sizeof(err)),
				 MW_OK);
		assert_false(s->sim);
	}
}

static void dotted_and_nested_keys_agree(void **state)
{
	struct settings *s = *state;
	char err[512];

	assert_int_equal(load(s, "uplink.batch_events: 7\nstore.sync: full\n", err, sizeof(err)),
			 MW_OK);
	assert_int_equal(s->batch, 7);
	assert_int_equal(s->sync, 1);
	assert_int_equal(load(s, "uplink: {batch_events: 9}\n", err, sizeof(err)), MW_OK);
	assert_int_equal(s->batch, 9);
	assert_int_equal(s->sync, 1); /* a later file only changes what it names */
}

static void bounds_errors_name_file_line_key(void **state)
{
	struct settings *s = *state;

	expect_error(s, "node:\n  id: a\nuplink:\n  batch_events: 0\n",
		     "edge.yaml:4: uplink.batch_events: 0 is out of range [1, 100]");
	expect_error(s, "offset: 11\n", "edge.yaml:1: offset: 11 is out of range [-10, 10]");
	expect_error(s, "\n\nstore: {quota: 512}\n",
		     "edge.yaml:3: store.quota: 512 is out of range [1024, 1099511627776]");
	expect_error(s, "uplink:\n  interval: 5ms\n",
		     "edge.yaml:2: uplink.interval: 5 is out of range [10, 3600000]");
}

static void bad_values_say_why(void **state)
{
	struct settings *s = *state;

	expect_error(s, "offset: 12abc\n", "edge.yaml:1: offset: '12abc' is not a whole number");
	expect_error(s, "sim:\n  enabled: maybe\n",
		     "edge.yaml:2: sim.enabled: 'maybe' is not true or false");
	expect_error(s, "store:\n  sync: fast\n",
		     "edge.yaml:2: store.sync: 'fast' is not one of normal|full");
	expect_error(s, "store:\n  quota: 10 parsecs\n",
		     "edge.yaml:2: store.quota: '10 parsecs' is not a size (like 512K, 64M, 2G)");
	expect_error(s, "store:\n  quota: -5M\n",
		     "edge.yaml:2: store.quota: '-5M' is not a size (like 512K, 64M, 2G)");
	expect_error(s, "store:\n  quota: 99999999999G\n",
		     "edge.yaml:2: store.quota: '99999999999G' is not a size (like 512K, 64M, 2G)");
	expect_error(
		s, "uplink:\n  interval: 3 days\n",
		"edge.yaml:2: uplink.interval: '3 days' is not a duration (like 250ms, 10s, 5m)");
	expect_error(s, "node:\n  id: this-id-is-far-too-long\n",
		     "edge.yaml:2: node.id: longer than 15 characters");
	expect_error(s, "node:\n  id: [a, b]\n", "edge.yaml:2: node.id: must be a single value");
	expect_error(s, "node: 5\n", "edge.yaml:1: node: must be a mapping");
	expect_error(s, "nodes: edge-1\n",
		     "edge.yaml:1: nodes: must be a mapping of names to values");
}

static void unknown_keys_refused(void **state)
{
	struct settings *s = *state;

	expect_error(s, "colour: blue\n", "edge.yaml:1: colour: unknown key");
	expect_error(s, "uplink:\n  batch_events: 5\n  batch_evnets: 6\n",
		     "edge.yaml:3: uplink.batch_evnets: unknown key");
	expect_error(s, "uplink: {nope: {deeper: 1}}\n", "edge.yaml:1: uplink.nope: unknown key");
}

static void map_duplicates_refused(void **state)
{
	struct settings *s = *state;

	expect_error(s, "nodes:\n  edge-1: a\n  edge-2: b\n  edge-1: c\n",
		     "edge.yaml:4: nodes.edge-1: set twice");
	expect_error(s, "nodes:\n  edge-1: {x: 1}\n",
		     "edge.yaml:2: nodes: entries must be 'name: value'");
}

static void empty_file_keeps_defaults(void **state)
{
	struct settings *s = *state;
	char err[256];

	assert_int_equal(load(s, "", err, sizeof(err)), MW_OK);
	assert_int_equal(load(s, "# only a comment\n", err, sizeof(err)), MW_OK);
	assert_int_equal(s->batch, 50);
	assert_string_equal(s->node, "edge-1");
	expect_error(s, "- a\n- b\n", "edge.yaml:1: the file must be a mapping of keys to values");
	expect_error(s, "just words\n",
		     "edge.yaml:1: the file must be a mapping of keys to values");
}

static void syntax_error_has_line(void **state)
{
	struct settings *s = *state;
	char err[256];

	assert_int_equal(load(s, "node:\n  id: a\nuplink:\n  hub_url: \"open\n", err, sizeof(err)),
			 MW_ERR_INVALID);
	assert_non_null(strstr(err, "edge.yaml:"));
	assert_non_null(strstr(err, "YAML syntax:"));
	/* libyaml reports an unclosed quote where the input ends (line 5). */
	assert_true(strncmp(err, "edge.yaml:4:", 12) == 0 || strncmp(err, "edge.yaml:5:", 12) == 0);
	assert_int_equal(load(s, "offset: 1: 2\n", err, sizeof(err)), MW_ERR_INVALID);
	assert_string_equal(strstr(err, "edge.yaml:1: YAML syntax:") ? "ok" : err, "ok");
	expect_error(s, "node: {id: &b x}\nuplink: {hub_url: *b}\n",
		     "edge.yaml:2: uplink.hub_url: aliases are not supported");
}

static void set_overrides(void **state)
{
	struct settings *s = *state;
	char err[256];

	assert_int_equal(config_set(table, s, "uplink.batch_events", "42", err, sizeof(err)),
			 MW_OK);
	assert_int_equal(s->batch, 42);
	assert_int_equal(config_set(table, s, "store.sync", "full", err, sizeof(err)), MW_OK);
	assert_int_equal(s->sync, 1);
	assert_int_equal(config_set(table, s, "uplink.batch_evnts", "1", err, sizeof(err)),
			 MW_ERR_INVALID);
	assert_string_equal(err, "uplink.batch_evnts: unknown key");
	assert_int_equal(config_set(table, s, "uplink.batch_events", "1000", err, sizeof(err)),
			 MW_ERR_INVALID);
	assert_string_equal(err, "uplink.batch_events: 1000 is out of range [1, 100]");
	assert_int_equal(s->batch, 42); /* a refused value changes nothing */
}

static void load_file_names_the_path(void **state)
{
	struct settings *s = *state;
	char path[] = "/tmp/test_config_XXXXXX", err[512];
	const char text[] = "uplink:\n  batch_events: 3\n  compress: nah\n";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	assert_int_equal(config_load_file(table, s, path, err, sizeof(err)), MW_ERR_INVALID);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, ":3: uplink.compress: 'nah' is not true or false"));
	unlink(path);
	assert_int_equal(config_load_file(table, s, path, err, sizeof(err)), MW_ERR_IO);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "cannot open"));
}

static void docs_list_every_key(void **state)
{
	char *text = NULL, *save = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	config_write_docs(table, "mw-test", f);
	fclose(f);
	for (const struct config_key *k = table; k->name; k++) {
		char want[128];
		snprintf(want, sizeof(want), "| `%s` |", k->name);
		if (!strstr(text, want))
			fail_msg("docs lack %s:\n%s", k->name, text);
	}
	assert_non_null(strstr(text, "normal\\|full")); /* escaped: a bare | splits the cell */
	assert_non_null(strstr(text, "events per batch"));
	/* Every table row has exactly five cells: six unescaped bars. */
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int bars = 0;
		if (line[0] != '|')
			continue;
		for (char *p = line; *p; p++)
			bars += *p == '|' && (p == line || p[-1] != '\\');
		if (bars != 6)
			fail_msg("row with %d cells: %s", bars - 1, line);
	}
	free(text);
}

/* A vision table like mw-edge's: cameras, each with zones. */
struct zone {
	char id[16];
	int kind;
	struct config_points polygon;
	struct config_points line;
	double min_area;
	struct config_map labels;
};

struct camera {
	char id[16];
	char url[64];
	int64_t rate;
	bool enabled;
	struct config_rect roi;
	double threshold;
	struct config_list zones;
};

struct vision {
	int64_t workers;
	double scale;
	struct config_points mask;
	struct config_list cameras;
};

#define ZO(f) offsetof(struct zone, f)
#define CO(f) offsetof(struct camera, f)
#define VO(f) offsetof(struct vision, f)

static const struct config_key zone_keys[] = {
	{.name = "id", .type = CONF_STRING, .offset = ZO(id),
	 .size = sizeof(((struct zone *)0)->id), .help = "zone name"},
	{.name = "kind", .type = CONF_ENUM, .offset = ZO(kind), .def = "intrusion",
	 .choices = "intrusion|count", .help = "what the zone watches"},
	{.name = "polygon", .type = CONF_POINTS, .offset = ZO(polygon), .min = 3, .max = 16,
	 .help = "the zone's outline"},
	{.name = "line", .type = CONF_POINTS, .offset = ZO(line), .min = 2, .max = 2,
	 .help = "counting line"},
	{.name = "min_area", .type = CONF_DOUBLE, .offset = ZO(min_area), .def = "0.1", .dmin = 0,
	 .dmax = 1, .help = "smallest blob, share of the zone"},
	{.name = "labels", .type = CONF_MAP, .offset = ZO(labels), .help = "free labels"},
	CONFIG_END,
};

static const struct config_key camera_keys[] = {
	{.name = "id", .type = CONF_STRING, .offset = CO(id),
	 .size = sizeof(((struct camera *)0)->id), .help = "camera name"},
	{.name = "url", .type = CONF_STRING, .offset = CO(url),
	 .size = sizeof(((struct camera *)0)->url), .help = "stream"},
	{.name = "rate", .type = CONF_INT, .offset = CO(rate), .min = 1, .max = 60, .def = "10",
	 .help = "frames per second analysed"},
	{.name = "enabled", .type = CONF_BOOL, .offset = CO(enabled), .def = "true",
	 .help = "read this camera"},
	{.name = "roi", .type = CONF_RECT, .offset = CO(roi), .def = "0,0,640,480",
	 .help = "region analysed"},
	{.name = "inspection.threshold", .type = CONF_DOUBLE, .offset = CO(threshold),
	 .def = "0.5", .dmin = 0, .dmax = 1, .help = "defect score that alarms"},
	{.name = "zones", .type = CONF_LIST, .offset = CO(zones), .max = 4, .sub = zone_keys,
	 .elem_size = sizeof(struct zone), .help = "zones watched"},
	CONFIG_END,
};

static const struct config_key vision_keys[] = {
	{.name = "workers", .type = CONF_INT, .offset = VO(workers), .min = 1, .max = 8,
	 .def = "1", .help = "threads"},
	{.name = "scale", .type = CONF_DOUBLE, .offset = VO(scale), .def = "1", .dmin = 0.125,
	 .dmax = 4, .help = "resize factor"},
	{.name = "mask", .type = CONF_POINTS, .offset = VO(mask), .min = 3, .max = 16,
	 .help = "area ignored"},
	{.name = "cameras", .type = CONF_LIST, .offset = VO(cameras), .max = 16, .sub = camera_keys,
	 .elem_size = sizeof(struct camera), .help = "cameras read"},
	CONFIG_END,
};

static const char cameras_yaml[] = "workers: 2\n"
				   "cameras:\n"
				   "  - id: line1-cam\n"
				   "    url: rtsp://10.0.0.5/s1\n"
				   "    roi: [10, 20, 320, 240]\n"
				   "    inspection: {threshold: 0.75}\n"
				   "    zones:\n"
				   "      - id: robot-cell\n"
				   "        polygon: [[100, 200], [300, 200], [300, 400]]\n"
				   "        labels: {area: weld}\n"
				   "      - id: door\n"
				   "        kind: count\n"
				   "        line: \"0,50 200,50\"\n"
				   "  - id: line2-cam\n"
				   "    url: rtsp://10.0.0.6/s1\n"
				   "    enabled: false\n"
				   "    zones:\n"
				   "      - id: z1\n"
				   "        polygon: \"1,1 9,1 9,9 1,9\"\n"
				   "      - id: z2\n"
				   "        min_area: 0.25\n";

static int vsetup(void **state)
{
	struct vision *v = calloc(1, sizeof(*v));
	assert_non_null(v);
	assert_int_equal(config_defaults(vision_keys, v), MW_OK);
	*state = v;
	return 0;
}

static int vteardown(void **state)
{
	config_free(vision_keys, *state);
	free(*state);
	return 0;
}

static int vload(struct vision *v, const char *text, char *err, size_t errlen)
{
	err[0] = '\0';
	return config_load_string(vision_keys, v, "edge.yaml", text, strlen(text), err, errlen);
}

static void vexpect_error(struct vision *v, const char *text, const char *want)
{
	char err[512];
	if (vload(v, text, err, sizeof(err)) == MW_OK)
		fail_msg("accepted, expected \"%s\":\n%s", want, text);
	assert_string_equal(err, want);
}

static struct camera *cam(struct vision *v, size_t i)
{
	assert_true(i < v->cameras.n);
	return CONFIG_LIST_AT(&v->cameras, struct camera, i);
}

static struct zone *zone(struct camera *c, size_t i)
{
	assert_true(i < c->zones.n);
	return CONFIG_LIST_AT(&c->zones, struct zone, i);
}

static void assert_points(const struct config_points *p, const int *want, int n)
{
	assert_int_equal(p->n, n);
	for (int i = 0; i < 2 * n; i++)
		if (p->xy[i] != want[i])
			fail_msg("coordinate %d is %d, want %d", i, p->xy[i], want[i]);
}

static void cameras_with_zones_load(void **state)
{
	static const int tri[] = {100, 200, 300, 200, 300, 400}, sq[] = {1, 1, 9, 1, 9, 9, 1, 9},
			 door[] = {0, 50, 200, 50};
	struct vision *v = *state;
	struct camera *c;
	char err[512];

	assert_int_equal(v->cameras.n, 0);
	assert_int_equal(vload(v, cameras_yaml, err, sizeof(err)), MW_OK);
	assert_int_equal(v->workers, 2);
	assert_int_equal(v->cameras.n, 2);
	c = cam(v, 0);
	assert_string_equal(c->id, "line1-cam");
	assert_string_equal(c->url, "rtsp://10.0.0.5/s1");
	assert_true(c->enabled);
	assert_int_equal(c->roi.x, 10);
	assert_int_equal(c->roi.y, 20);
	assert_int_equal(c->roi.w, 320);
	assert_int_equal(c->roi.h, 240);
	assert_true(c->threshold == 0.75);
	assert_int_equal(c->zones.n, 2);
	assert_string_equal(zone(c, 0)->id, "robot-cell");
	assert_points(&zone(c, 0)->polygon, tri, 3);
	assert_string_equal(config_map_get(&zone(c, 0)->labels, "area"), "weld");
	assert_string_equal(zone(c, 1)->id, "door");
	assert_int_equal(zone(c, 1)->kind, 1);
	assert_points(&zone(c, 1)->line, door, 2);
	c = cam(v, 1);
	assert_string_equal(c->id, "line2-cam");
	assert_false(c->enabled);
	assert_int_equal(c->zones.n, 2);
	assert_string_equal(zone(c, 0)->id, "z1");
	assert_points(&zone(c, 0)->polygon, sq, 4);
	assert_true(zone(c, 1)->min_area == 0.25);
}

static void defaults_apply_per_element(void **state)
{
	struct vision *v = *state;
	struct camera *c;
	char err[512];

	assert_int_equal(vload(v, cameras_yaml, err, sizeof(err)), MW_OK);
	c = cam(v, 1); /* sets neither rate, roi nor threshold */
	assert_int_equal(c->rate, 10);
	assert_int_equal(c->roi.w, 640);
	assert_int_equal(c->roi.h, 480);
	assert_true(c->threshold == 0.5);
	assert_int_equal(zone(c, 1)->kind, 0); /* the first camera's "count" did not leak */
	assert_int_equal(zone(c, 1)->polygon.n, 0);
	assert_int_equal(zone(c, 1)->labels.n, 0);
	assert_true(zone(cam(v, 0), 0)->min_area == 0.1);
	assert_int_equal(cam(v, 0)->rate, 10);
}

static void second_load_replaces_lists(void **state)
{
	struct vision *v = *state;
	char err[512];

	assert_int_equal(vload(v, cameras_yaml, err, sizeof(err)), MW_OK);
	assert_int_equal(vload(v, cameras_yaml, err, sizeof(err)), MW_OK);
	assert_int_equal(v->cameras.n, 2); /* replaced, not appended; ASan sees the old freed */
	assert_int_equal(vload(v, "cameras:\n  - id: solo\n", err, sizeof(err)), MW_OK);
	assert_int_equal(v->cameras.n, 1);
	assert_string_equal(cam(v, 0)->id, "solo");
	assert_int_equal(cam(v, 0)->zones.n, 0);
	/* A refused list leaves the one before in place. */
	vexpect_error(v, "cameras:\n  - id: a\n  - id: b\n    rate: 0\n",
		      "edge.yaml:4: cameras[1].rate: 0 is out of range [1, 60]");
	assert_int_equal(v->cameras.n, 1);
	assert_string_equal(cam(v, 0)->id, "solo");
	assert_int_equal(vload(v, "cameras: []\n", err, sizeof(err)), MW_OK);
	assert_int_equal(v->cameras.n, 0);
	assert_int_equal(vload(v, cameras_yaml, err, sizeof(err)), MW_OK);
	assert_int_equal(vload(v, "cameras:\n", err, sizeof(err)), MW_OK);
	assert_int_equal(v->cameras.n, 0);
}

static void list_errors_name_element_and_line(void **state)
{
	struct vision *v = *state;

	vexpect_error(v,
		      "cameras:\n"
		      "  - id: a\n"
		      "    zones:\n"
		      "      - id: z\n"
		      "        polygon: [[0, 0], [1, 0], [1, 1]]\n"
		      "  - id: b\n"
		      "    zones:\n"
		      "      - id: q\n"
		      "        polygon: [[0, 0], [5], [1, 1]]\n",
		      "edge.yaml:9: cameras[1].zones[0].polygon: point 2: "
		      "must be two integers [x, y]");
	vexpect_error(v, "cameras:\n  - id: a\n    url: x\n  - id: b\n    fps: 5\n",
		      "edge.yaml:5: cameras[1].fps: unknown key");
	vexpect_error(v, "cameras:\n  - id: a\n    url: x\n    id: b\n",
		      "edge.yaml:4: cameras[0].id: set twice");
	vexpect_error(v,
		      "cameras:\n  - inspection: {threshold: 0.2}\n    inspection.threshold: 1\n",
		      "edge.yaml:3: cameras[0].inspection.threshold: set twice");
	vexpect_error(v, "cameras:\n  - inspection: {threshold: 1.5}\n",
		      "edge.yaml:2: cameras[0].inspection.threshold: 1.5 is out of range [0, 1]");
	vexpect_error(v, "cameras:\n  - inspection: {thresold: 1}\n",
		      "edge.yaml:2: cameras[0].inspection.thresold: unknown key");
	vexpect_error(v, "cameras:\n  - zones:\n    - labels: {a: 1, a: 2}\n",
		      "edge.yaml:3: cameras[0].zones[0].labels.a: set twice");
	vexpect_error(v, "cameras:\n  - rtsp://x\n",
		      "edge.yaml:2: cameras[0]: each entry must be a mapping of keys to values");
	vexpect_error(v, "cameras: rtsp://x\n",
		      "edge.yaml:1: cameras: must be a list of entries (- key: value)");
	vexpect_error(v, "cameras: {id: a}\n",
		      "edge.yaml:1: cameras: must be a list of entries (- key: value)");
	vexpect_error(v, "cameras:\n  - &c {id: x}\n  - *c\n",
		      "edge.yaml:3: cameras[1]: aliases are not supported");
	vexpect_error(v, "cameras:\n  - id: &i x\n  - id: *i\n",
		      "edge.yaml:3: cameras[1].id: aliases are not supported");
	vexpect_error(v, "cameras:\n  - zones: [{kind: gate}]\n",
		      "edge.yaml:2: cameras[0].zones[0].kind: 'gate' is not one of "
		      "intrusion|count");
	assert_int_equal(v->cameras.n, 0);
}

/* "cameras: [{id: c0}, ...]" with n entries, on line 7. */
static void flow_cameras(char *text, size_t cap, int n)
{
	size_t len = (size_t)snprintf(text, cap, "# six\n# lines\n# of\n# comment\n# before\n# it\n"
						 "cameras: [");
	for (int i = 0; i < n && len < cap; i++)
		len += (size_t)snprintf(text + len, cap - len, "%s{id: c%d}", i ? ", " : "", i);
	assert_true(len + 3 < cap);
	snprintf(text + len, cap - len, "]\n");
}

static void list_max_entries(void **state)
{
	struct vision *v = *state;
	char text[1024], err[512];

	flow_cameras(text, sizeof(text), 16);
	assert_int_equal(vload(v, text, err, sizeof(err)), MW_OK);
	assert_int_equal(v->cameras.n, 16);
	assert_string_equal(cam(v, 15)->id, "c15");
	flow_cameras(text, sizeof(text), 17);
	vexpect_error(v, text, "edge.yaml:7: cameras: at most 16 entries");
	assert_int_equal(v->cameras.n, 16);
	vexpect_error(v, "cameras:\n  - zones: [{}, {}, {}, {}, {}]\n",
		      "edge.yaml:2: cameras[0].zones: at most 4 entries");
}

static void points_both_syntaxes(void **state)
{
	static const int tri[] = {0, 0, 10, 0, -5, 7};
	struct vision *v = *state;
	char err[512];

	assert_int_equal(vload(v, "mask: [[0, 0], [10, 0], [-5, 7]]\n", err, sizeof(err)), MW_OK);
	assert_points(&v->mask, tri, 3);
	memset(&v->mask, 0, sizeof(v->mask));
	assert_int_equal(vload(v, "mask: \"0,0  10,0 -5,7\"\n", err, sizeof(err)), MW_OK);
	assert_points(&v->mask, tri, 3);
	memset(&v->mask, 0, sizeof(v->mask));
	assert_int_equal(
		vload(v, "mask:\n  - [0, 0]\n  - [10, 0]\n  - [-5, 7]\n", err, sizeof(err)), MW_OK);
	assert_points(&v->mask, tri, 3);
	memset(&v->mask, 0, sizeof(v->mask));
	assert_int_equal(config_set(vision_keys, v, "mask", "0,0 10,0 -5,7", err, sizeof(err)),
			 MW_OK);
	assert_points(&v->mask, tri, 3);
}

static void points_errors(void **state)
{
	struct vision *v = *state;
	char text[512], err[512];
	size_t len;

	vexpect_error(v, "mask: [[0, 0], [1, 1]]\n",
		      "edge.yaml:1: mask: must have at least 3 points, not 2");
	vexpect_error(v, "mask: \"0,0 1,1 2;2\"\n", "edge.yaml:1: mask: point 3: '2;2' is not x,y");
	vexpect_error(v, "mask:\n  - [0, 0]\n  - [1, 1, 1]\n  - [2, 2]\n",
		      "edge.yaml:3: mask: point 2: must be two integers [x, y]");
	vexpect_error(v, "mask: [[0, 0], [1, x], [2, 2]]\n",
		      "edge.yaml:1: mask: point 2: must be two integers [x, y]");
	vexpect_error(v, "mask: [[0, 0], [1, 1], [200000, 2]]\n",
		      "edge.yaml:1: mask: point 3: must be two integers [x, y]");
	vexpect_error(v, "mask: [[0, 0], 5, [2, 2]]\n",
		      "edge.yaml:1: mask: point 2: must be two integers [x, y]");
	vexpect_error(v, "mask: [[[0, 0]]]\n",
		      "edge.yaml:1: mask: point 1: must be two integers [x, y]");
	vexpect_error(v, "mask: {x: 1}\n",
		      "edge.yaml:1: mask: must be a list of points [[x, y], ...]");
	vexpect_error(v, "cameras:\n  - zones:\n    - line: [[0, 0], [1, 1], [2, 2]]\n",
		      "edge.yaml:3: cameras[0].zones[0].line: at most 2 points");
	vexpect_error(v, "cameras:\n  - zones:\n    - line: \"5,5\"\n",
		      "edge.yaml:3: cameras[0].zones[0].line: must have exactly 2 points, not 1");
	len = (size_t)snprintf(text, sizeof(text), "mask: [");
	for (int i = 0; i < 17; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s[%d, 1]",
					i ? ", " : "", i);
	snprintf(text + len, sizeof(text) - len, "]\n");
	vexpect_error(v, text, "edge.yaml:1: mask: at most 16 points");
	assert_int_equal(v->mask.n, 0); /* refused points change nothing */
	assert_int_equal(config_set(vision_keys, v, "mask", "0,0 1,1", err, sizeof(err)),
			 MW_ERR_INVALID);
	assert_string_equal(err, "mask: must have at least 3 points, not 2");
}

static void rect_reads_and_checks(void **state)
{
	struct vision *v = *state;
	char err[512];

	assert_int_equal(vload(v, "cameras: [{roi: [-4, 5, 6, 7]}]\n", err, sizeof(err)), MW_OK);
	assert_int_equal(cam(v, 0)->roi.x, -4);
	assert_int_equal(cam(v, 0)->roi.y, 5);
	assert_int_equal(cam(v, 0)->roi.w, 6);
	assert_int_equal(cam(v, 0)->roi.h, 7);
	vexpect_error(v, "cameras:\n  - roi: [0, 0, 0, 5]\n",
		      "edge.yaml:2: cameras[0].roi: width and height must be at least 1");
	vexpect_error(v, "cameras:\n  - roi: [0, 0, 5]\n",
		      "edge.yaml:2: cameras[0].roi: must be four integers [x, y, w, h]");
	vexpect_error(v, "cameras:\n  - roi: [0, 0, 5, 5, 5]\n",
		      "edge.yaml:2: cameras[0].roi: must be four integers [x, y, w, h]");
	vexpect_error(v, "cameras:\n  - roi: 1 2 3 4\n",
		      "edge.yaml:2: cameras[0].roi: '1 2 3 4' is not x,y,w,h (integers within "
		      "+-100000)");
	vexpect_error(v, "cameras:\n  - roi: {x: 1}\n",
		      "edge.yaml:2: cameras[0].roi: must be [x, y, w, h]");
	assert_int_equal(vload(v, "cameras: [{roi: \"1, 2, 3, 4\"}]\n", err, sizeof(err)), MW_OK);
	assert_int_equal(cam(v, 0)->roi.h, 4);
}

static void double_bounds(void **state)
{
	struct vision *v = *state;
	char err[512];

	assert_true(v->scale == 1.0);
	assert_int_equal(config_set(vision_keys, v, "scale", "0.125", err, sizeof(err)), MW_OK);
	assert_true(v->scale == 0.125);
	assert_int_equal(vload(v, "scale: 2.5e0\n", err, sizeof(err)), MW_OK);
	assert_true(v->scale == 2.5);
	vexpect_error(v, "scale: 0.1\n", "edge.yaml:1: scale: 0.1 is out of range [0.125, 4]");
	vexpect_error(v, "scale: 4.5\n", "edge.yaml:1: scale: 4.5 is out of range [0.125, 4]");
	vexpect_error(v, "scale: nan\n", "edge.yaml:1: scale: 'nan' is not a number");
	vexpect_error(v, "scale: 2x\n", "edge.yaml:1: scale: '2x' is not a number");
	vexpect_error(v, "scale: \"\"\n", "edge.yaml:1: scale: '' is not a number");
	assert_true(v->scale == 2.5);
}

static void set_refuses_lists(void **state)
{
	struct vision *v = *state;
	char err[512];

	assert_int_equal(config_set(vision_keys, v, "cameras", "x", err, sizeof(err)),
			 MW_ERR_INVALID);
	assert_string_equal(err, "cameras: lists can only be set in the config file");
	assert_int_equal(config_set(vision_keys, v, "cameras[0].url", "x", err, sizeof(err)),
			 MW_ERR_INVALID);
	assert_string_equal(err, "cameras[0].url: unknown key");
}

/* A table that lists itself: only the depth cap ends it. */
struct tree {
	char name[8];
	struct config_list kids;
};

static const struct config_key tree_keys[] = {
	{.name = "name", .type = CONF_STRING, .offset = offsetof(struct tree, name),
	 .size = sizeof(((struct tree *)0)->name), .help = "name"},
	{.name = "kids", .type = CONF_LIST, .offset = offsetof(struct tree, kids), .max = 4,
	 .sub = tree_keys, .elem_size = sizeof(struct tree), .help = "children"},
	CONFIG_END,
};

static void nesting_depth_capped(void **state)
{
	struct tree t, *node = &t;
	char err[512], *text = NULL;
	size_t len = 0;
	const char *four = "kids: [{kids: [{kids: [{kids: [{name: d4}]}]}]}]\n";
	const char *five = "kids: [{kids: [{kids: [{kids: [{kids: []}]}]}]}]\n";
	FILE *f;

	(void)state;
	assert_int_equal(config_defaults(tree_keys, &t), MW_OK);
	assert_int_equal(config_load_string(tree_keys, &t, "t.yaml", four, strlen(four), err,
					    sizeof(err)),
			 MW_OK);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(node->kids.n, 1);
		node = CONFIG_LIST_AT(&node->kids, struct tree, 0);
	}
	assert_string_equal(node->name, "d4");
	assert_int_equal(config_load_string(tree_keys, &t, "t.yaml", five, strlen(five), err,
					    sizeof(err)),
			 MW_ERR_INVALID);
	assert_string_equal(err, "t.yaml:1: kids[0].kids[0].kids[0].kids[0].kids: lists nested "
				 "deeper than 4 levels");
	config_free(tree_keys, &t);
	assert_int_equal(t.kids.n, 0);
	f = open_memstream(&text, &len);
	assert_non_null(f);
	config_write_docs(tree_keys, "tree", f);
	fclose(f);
	assert_non_null(strstr(text, "| `kids[].kids[].kids[].kids[].kids` | list"));
	assert_null(strstr(text, "kids[].kids[].kids[].kids[].kids[]"));
	free(text);
}

static void docs_list_sub_keys(void **state)
{
	static const char *rows[] = {
		"| `cameras` | list | (none) | at most 16 entries |",
		"| `cameras[].url` | string ",
		"| `cameras[].roi` | rect | 0,0,640,480 |",
		"| `cameras[].inspection.threshold` | number | 0.5 | 0 to 1 |",
		"| `cameras[].zones` | list ",
		"| `cameras[].zones[].polygon` | points | (none) | 3 to 16 points",
		"| `cameras[].zones[].line` | points | (none) | 2 points",
		"| `cameras[].zones[].labels` | map ",
		"| `scale` | number | 1 | 0.125 to 4 |",
	};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	config_write_docs(vision_keys, "vision", f);
	fclose(f);
	for (size_t i = 0; i < MW_ARRAY_LEN(rows); i++)
		if (!strstr(text, rows[i]))
			fail_msg("docs lack \"%s\":\n%s", rows[i], text);
	for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1
									  : NULL) {
		int bars = 0;
		for (char *p = line; *p && *p != '\n'; p++)
			bars += *p == '|' && (p == line || p[-1] != '\\');
		if (line[0] == '|' && bars != 6)
			fail_msg("row with %d cells: %.80s", bars - 1, line);
	}
	free(text);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define V(f) cmocka_unit_test_setup_teardown(f, vsetup, vteardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(defaults_apply),
		T(every_type_loads),
		T(units_scale),
		T(bools_spelled_many_ways),
		T(dotted_and_nested_keys_agree),
		T(bounds_errors_name_file_line_key),
		T(bad_values_say_why),
		T(unknown_keys_refused),
		T(map_duplicates_refused),
		T(empty_file_keeps_defaults),
		T(syntax_error_has_line),
		T(set_overrides),
		T(load_file_names_the_path),
		T(docs_list_every_key),
		V(cameras_with_zones_load),
		V(defaults_apply_per_element),
		V(second_load_replaces_lists),
		V(list_errors_name_element_and_line),
		V(list_max_entries),
		V(points_both_syntaxes),
		V(points_errors),
		V(rect_reads_and_checks),
		V(double_bounds),
		V(set_refuses_lists),
		V(docs_list_sub_keys),
		cmocka_unit_test(nesting_depth_capped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
