/* yamljson.c -- libyaml's events into a jansson tree (yamljson.h). */
#include "core/yamljson.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct reader {
	yaml_parser_t p;
	char *err;
	size_t errlen;
};

static int fail_at(struct reader *r, size_t line, const char *what)
{
	snprintf(r->err, r->errlen, "line %zu: %s", line + 1, what);
	return MW_ERR_INVALID;
}

static int fail(struct reader *r, const yaml_event_t *ev, const char *what)
{
	return fail_at(r, ev ? ev->start_mark.line : r->p.problem_mark.line, what);
}

static bool is(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcmp(s, *words) == 0)
			return true;
	return false;
}

/* A plain scalar as what it looks like. */
static json_t *plain(const char *s)
{
	static const char *const t[] = {"true", "True", "TRUE", NULL};
	static const char *const f[] = {"false", "False", "FALSE", NULL};
	static const char *const n[] = {"", "~", "null", "Null", "NULL", NULL};
	char *end;

	if (is(s, t))
		return json_true();
	if (is(s, f))
		return json_false();
	if (is(s, n))
		return json_null();
	if ((s[0] == '0' || (s[0] == '-' && s[1] == '0')) && s[s[0] == '-' ? 2 : 1] >= '0' &&
	    s[s[0] == '-' ? 2 : 1] <= '9')
		return json_string(s); /* 0755, 007: not a number anyone meant */
	errno = 0;
	long long i = strtoll(s, &end, 10);
	if (*s && !*end && !errno && (s[0] != '0' || !s[1]) && strcmp(s, "-0"))
		return json_integer(i);
	double d = strtod(s, &end);
	if (*s && !*end && !errno && isfinite(d) && strpbrk(s, "0123456789") && !strpbrk(s, "xXpP"))
		return json_real(d);
	return json_string(s);
}

static int node(struct reader *r, yaml_event_t *ev, int depth, json_t **out);

/* Reads events until the end of the collection that ev opened. */
static int collection(struct reader *r, yaml_event_t *start, int depth, json_t **out)
{
	bool map = start->type == YAML_MAPPING_START_EVENT;
	json_t *c = map ? json_object() : json_array();
	yaml_event_t ev;
	int rc = MW_OK;

	if (!c)
		return MW_ERR_NOMEM;
	for (;;) {
		json_t *key = NULL, *val = NULL;
		if (!yaml_parser_parse(&r->p, &ev)) {
			rc = fail(r, NULL, r->p.problem ? r->p.problem : "unreadable YAML");
			break;
		}
		if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (map && ev.type != YAML_SCALAR_EVENT) {
			rc = fail(r, &ev, "a mapping key must be a plain string");
			yaml_event_delete(&ev);
			break;
		}
		size_t line = ev.start_mark.line;
		rc = node(r, &ev, depth + 1, map ? &key : &val);
		if (rc == MW_OK && map) {
			const char *k = json_is_string(key) ? json_string_value(key) : NULL;
			yaml_event_t vev;
			char what[96];
			if (!k) {
				rc = fail_at(r, line, "a mapping key must be a string");
			} else if (json_object_get(c, k)) {
				snprintf(what, sizeof(what), "%.60s: given twice", k);
				rc = fail_at(r, line, what);
			} else if (!yaml_parser_parse(&r->p, &vev)) {
				rc = fail(r, NULL, r->p.problem ? r->p.problem : "unreadable YAML");
			} else {
				rc = node(r, &vev, depth + 1, &val);
				if (rc == MW_OK)
					json_object_set_new(c, k, val);
				val = NULL;
			}
		} else if (rc == MW_OK) {
			json_array_append_new(c, val);
			val = NULL;
		}
		json_decref(key);
		json_decref(val);
		if (rc)
			break;
	}
	if (rc) {
		json_decref(c);
		return rc;
	}
	*out = c;
	return MW_OK;
}

/* ev (taken): a scalar or the start of a collection. */
static int node(struct reader *r, yaml_event_t *ev, int depth, json_t **out)
{
	int rc = MW_OK;

	*out = NULL;
	if (depth > YAMLJSON_MAX_DEPTH) {
		rc = fail(r, ev, "nested too deeply");
	} else if (ev->type == YAML_ALIAS_EVENT ||
		   (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.anchor) ||
		   (ev->type == YAML_MAPPING_START_EVENT && ev->data.mapping_start.anchor) ||
		   (ev->type == YAML_SEQUENCE_START_EVENT && ev->data.sequence_start.anchor)) {
		rc = fail(r, ev, "anchors and aliases (& and *) are not supported");
	} else if (ev->type == YAML_SCALAR_EVENT) {
		const char *s = (const char *)ev->data.scalar.value;
		if (strlen(s) != ev->data.scalar.length)
			rc = fail(r, ev, "a NUL byte in a string");
		else
			*out = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? plain(s)
										: json_string(s);
		if (rc == MW_OK && !*out)
			rc = fail(r, ev, "not valid UTF-8 text");
	} else if (ev->type == YAML_MAPPING_START_EVENT || ev->type == YAML_SEQUENCE_START_EVENT) {
		rc = collection(r, ev, depth, out);
	} else {
		rc = fail(r, ev, "unexpected YAML");
	}
	yaml_event_delete(ev);
	return rc;
}

int yamljson_parse(const char *text, size_t len, json_t **out, char *err, size_t errlen)
{
	struct reader r = {.err = err, .errlen = errlen};
	yaml_event_t ev;
	json_t *root = NULL;
	int rc = MW_OK, docs = 0;

	*out = NULL;
	if (len > YAMLJSON_MAX_BYTES) {
		snprintf(err, errlen, "larger than %u bytes", YAMLJSON_MAX_BYTES);
		return MW_ERR_INVALID;
	}
	if (!yaml_parser_initialize(&r.p))
		return MW_ERR_NOMEM;
	yaml_parser_set_input_string(&r.p, (const unsigned char *)text, len);
	while (rc == MW_OK) {
		if (!yaml_parser_parse(&r.p, &ev)) {
			rc = fail(&r, NULL, r.p.problem ? r.p.problem : "unreadable YAML");
			break;
		}
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
			rc = fail(&r, &ev, "more than one document (---)");
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_MAPPING_START_EVENT ||
		    ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_ALIAS_EVENT) {
			rc = node(&r, &ev, 0, &root);
			continue;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&r.p);
	if (rc == MW_OK && !root) {
		snprintf(err, errlen, "empty document");
		rc = MW_ERR_INVALID;
	}
	if (rc) {
		json_decref(root);
		return rc;
	}
	*out = root;
	return MW_OK;
}
