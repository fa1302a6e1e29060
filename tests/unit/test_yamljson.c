/* test_yamljson.c -- YAML documents as JSON trees (core/yamljson.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/yamljson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The document as compact JSON with sorted keys, or "ERR: <message>". */
static char *as_json(const char *yaml)
{
	char err[256] = "", *out;
	json_t *j;

	if (yamljson_parse(yaml, strlen(yaml), &j, err, sizeof(err)) != MW_OK) {
		size_t n = strlen(err) + 6;
		out = malloc(n);
		snprintf(out, n, "ERR: %s", err);
		return out;
	}
	out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	json_decref(j);
	return out;
}

static void check(const char *yaml, const char *want)
{
	char *got = as_json(yaml);

	if (strcmp(got, want) != 0)
		print_error("yaml:\n%s\nwant: %s\ngot:  %s\n", yaml, want, got);
	assert_string_equal(got, want);
	free(got);
}

static void test_manifest_shapes(void **state)
{
	check("name: cam-qa\nversion: \"1.2.0\"\nreplicas: 3\nratio: 0.5\nenabled: true\n"
	      "note: ~\nports: [8080, \"9090\"]\nenv:\n  A: b\n",
	      "{\"enabled\":true,\"env\":{\"A\":\"b\"},\"name\":\"cam-qa\",\"note\":null,"
	      "\"ports\":[8080,\"9090\"],\"ratio\":0.5,\"replicas\":3,\"version\":\"1.2.0\"}");
	check("- a\n- - 1\n  - x: y\n", "[\"a\",[1,{\"x\":\"y\"}]]");
	check("{\"json\": [1, 2.5, false]}", "{\"json\":[1,2.5,false]}");
}

static void test_scalars_as_they_look(void **state)
{
	check("[0755, 007, -0, 0, -12, 1e3, 0x1f, .inf, 'true', yes, \"3\"]",
	      "[\"0755\",\"007\",-0.0,0,-12,1000.0,\"0x1f\",\".inf\",\"true\",\"yes\",\"3\"]");
}

static void test_refusals_name_line_and_cause(void **state)
{
	check("a: 1\na: 2\n", "ERR: line 2: a: given twice");
	check("base: &b {x: 1}\nother: *b\n",
	      "ERR: line 1: anchors and aliases (& and *) are not supported");
	check("a: 1\n---\nb: 2\n", "ERR: line 2: more than one document (---)");
	check("", "ERR: empty document");
	check("a: [1, 2\n", "ERR: line 2: did not find expected ',' or ']'");
	check("? [1]\n: x\n", "ERR: line 1: a mapping key must be a plain string");
}

static void test_depth_is_capped(void **state)
{
	char deep[200];
	size_t n = 0;

	for (int i = 0; i < 40; i++)
		deep[n++] = '[';
	for (int i = 0; i < 40; i++)
		deep[n++] = ']';
	deep[n] = '\0';
	check(deep, "ERR: line 1: nested too deeply");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manifest_shapes),
		cmocka_unit_test(test_scalars_as_they_look),
		cmocka_unit_test(test_refusals_name_line_and_cause),
		cmocka_unit_test(test_depth_is_capped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
