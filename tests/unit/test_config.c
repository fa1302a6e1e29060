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
	 NULL, "this edge's id"},
	{"uplink.hub_url", CONF_STRING, OFF(hub_url), sizeof(((struct settings *)0)->hub_url), 0, 0,
	 NULL, NULL, "the hub"},
	{"uplink.batch_events", CONF_INT, OFF(batch), 0, 1, 100, "50", NULL, "events per batch"},
	{"offset", CONF_INT, OFF(offset), 0, -10, 10, NULL, NULL, "signed"},
	{"sim.enabled", CONF_BOOL, OFF(sim), 0, 0, 0, "false", NULL, "simulate"},
	{"uplink.compress", CONF_BOOL, OFF(compress), 0, 0, 0, "true", NULL, "zstd"},
	{"store.sync", CONF_ENUM, OFF(sync), 0, 0, 0, "normal", "normal|full", "durability"},
	{"store.quota", CONF_SIZE, OFF(quota), 0, 1024, INT64_C(1) << 40, "1G", NULL, "disk"},
	{"uplink.interval", CONF_DURATION, OFF(interval), 0, 10, 3600000, "1s", NULL, "pace"},
	{"nodes", CONF_MAP, OFF(nodes), 0, 0, 0, NULL, NULL, "node id -> token"},
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

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
