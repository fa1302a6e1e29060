/* config.c -- YAML config reader driven by a key table; see config.h.
 *
 * libyaml's event parser walks the document; we keep the dotted path of
 * the mapping we are in and look each scalar key up in the table. Every
 * error carries the file, the line (1-based) and the full key name. */
#include "core/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define PATH_MAX_LEN 256
#define DEPTH_MAX 8
#define MAP_MAX 4096

struct reader {
	const struct config_key *table;
	void *settings;
	const char *name;
	yaml_parser_t parser;
	char *err;
	size_t errlen;
};

static const struct config_key *find_key(const struct config_key *t, const char *name)
{
	for (; t->name; t++)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

static bool is_prefix(const struct config_key *t, const char *path)
{
	size_t n = strlen(path);
	for (; t->name; t++)
		if (strncmp(t->name, path, n) == 0 && t->name[n] == '.')
			return true;
	return false;
}

/* Parses "<number><unit>" where unit is one of units[] with its factor. */
static int parse_scaled(const char *s, const char *const *units, const int64_t *factors,
			int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || errno || v < 0)
		return MW_ERR_INVALID;
	for (size_t i = 0; units[i]; i++) {
		if (strcmp(end, units[i]) == 0) {
			if (factors[i] && v > INT64_MAX / factors[i])
				return MW_ERR_INVALID;
			*out = v * factors[i];
			return MW_OK;
		}
	}
	return MW_ERR_INVALID;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
	for (size_t i = 0; i < MW_ARRAY_LEN(yes); i++) {
		if (strcmp(s, yes[i]) == 0)
			return *out = true, MW_OK;
		if (strcmp(s, no[i]) == 0)
			return *out = false, MW_OK;
	}
	return MW_ERR_INVALID;
}

static int parse_enum(const char *choices, const char *s, int *out)
{
	size_t n = strlen(s);
	int idx = 0;
	for (const char *p = choices; *p; idx++) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && strncmp(p, s, n) == 0)
			return *out = idx, MW_OK;
		if (!bar)
			break;
		p = bar + 1;
	}
	return MW_ERR_INVALID;
}

static int set_value(const struct config_key *k, void *settings, const char *v, char *err,
		     size_t errlen)
{
	static const char *const size_units[] = {"", "B", "K", "KB", "KiB", "M", "MB", "MiB",
						 "G", "GB", "GiB", NULL};
	static const int64_t size_f[] = {1, 1, 1024, 1024, 1024, 1 << 20, 1 << 20, 1 << 20,
					 1 << 30, 1 << 30, 1 << 30};
	static const char *const dur_units[] = {"ms", "s", "m", "h", NULL};
	static const int64_t dur_f[] = {1, 1000, 60000, 3600000};
	char *field = (char *)settings + k->offset;
	int64_t n;

	switch (k->type) {
	case CONF_STRING:
		if (strlen(v) >= k->size) {
			snprintf(err, errlen, "%s: longer than %zu characters", k->name, k->size - 1);
			return MW_ERR_INVALID;
		}
		mw_strlcpy(field, v, k->size);
		return MW_OK;
	case CONF_BOOL:
		if (parse_bool(v, (bool *)field) == MW_OK)
			return MW_OK;
		snprintf(err, errlen, "%s: '%.40s' is not true or false", k->name, v);
		return MW_ERR_INVALID;
	case CONF_ENUM:
		if (parse_enum(k->choices, v, (int *)field) == MW_OK)
			return MW_OK;
		snprintf(err, errlen, "%s: '%.40s' is not one of %s", k->name, v, k->choices);
		return MW_ERR_INVALID;
	case CONF_INT:
		if (mw_parse_i64(v, INT64_MIN, INT64_MAX, &n)) {
			snprintf(err, errlen, "%s: '%.40s' is not a whole number", k->name, v);
			return MW_ERR_INVALID;
		}
		break;
	case CONF_SIZE:
		if (parse_scaled(v, size_units, size_f, &n)) {
			snprintf(err, errlen, "%s: '%.40s' is not a size (like 512K, 64M, 2G)",
				 k->name, v);
			return MW_ERR_INVALID;
		}
		break;
	case CONF_DURATION:
		if (parse_scaled(v, dur_units, dur_f, &n)) {
			snprintf(err, errlen, "%s: '%.40s' is not a duration (like 250ms, 10s, 5m)",
				 k->name, v);
			return MW_ERR_INVALID;
		}
		break;
	case CONF_MAP:
		snprintf(err, errlen, "%s: must be a mapping of names to values", k->name);
		return MW_ERR_INVALID;
	}
	if (n < k->min || n > k->max) {
		snprintf(err, errlen, "%s: %lld is out of range [%lld, %lld]", k->name,
			 (long long)n, (long long)k->min, (long long)k->max);
		return MW_ERR_INVALID;
	}
	*(int64_t *)field = n;
	return MW_OK;
}

static void map_clear(struct config_map *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->names[i]);
		free(m->values[i]);
	}
	free(m->names);
	free(m->values);
	memset(m, 0, sizeof(*m));
}

static int map_put(struct config_map *m, const char *name, const char *value)
{
	char **nn, **nv;
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->names[i], name) == 0)
			return MW_ERR_INVALID; /* caller names the duplicate */
	if (m->n >= MAP_MAX)
		return MW_ERR_TOOBIG;
	nn = realloc(m->names, (m->n + 1) * sizeof(*nn));
	if (!nn)
		return MW_ERR_NOMEM;
	m->names = nn;
	nv = realloc(m->values, (m->n + 1) * sizeof(*nv));
	if (!nv)
		return MW_ERR_NOMEM;
	m->values = nv;
	m->names[m->n] = strdup(name);
	m->values[m->n] = strdup(value);
	if (!m->names[m->n] || !m->values[m->n]) {
		free(m->names[m->n]);
		free(m->values[m->n]);
		return MW_ERR_NOMEM;
	}
	m->n++;
	return MW_OK;
}

int config_defaults(const struct config_key *table, void *settings)
{
	char err[256];
	for (const struct config_key *k = table; k->name; k++) {
		char *field = (char *)settings + k->offset;
		switch (k->type) {
		case CONF_STRING: field[0] = '\0'; break;
		case CONF_BOOL: *(bool *)field = false; break;
		case CONF_ENUM: *(int *)field = 0; break;
		case CONF_MAP: memset(field, 0, sizeof(struct config_map)); break;
		default: *(int64_t *)field = 0; break;
		}
		if (k->def && k->type != CONF_MAP && set_value(k, settings, k->def, err, sizeof(err)))
			return MW_ERR_INVALID; /* a bad default is a bug in the table */
	}
	return MW_OK;
}

static int next(struct reader *r, yaml_event_t *ev)
{
	if (yaml_parser_parse(&r->parser, ev))
		return MW_OK;
	snprintf(r->err, r->errlen, "%s:%zu: YAML syntax: %s", r->name,
		 r->parser.problem_mark.line + 1,
		 r->parser.problem ? r->parser.problem : "unreadable");
	return MW_ERR_INVALID;
}

static int fail_at(struct reader *r, const yaml_event_t *ev, const char *msg)
{
	snprintf(r->err, r->errlen, "%s:%zu: %s", r->name, ev->start_mark.line + 1, msg);
	return MW_ERR_INVALID;
}

/* Reads a CONF_MAP's mapping of scalars (MAPPING_START already consumed). */
static int read_map(struct reader *r, const struct config_key *k)
{
	struct config_map *m = (struct config_map *)((char *)r->settings + k->offset);
	char msg[384];
	int rc = MW_OK;

	for (;;) {
		yaml_event_t kev, vev;
		if ((rc = next(r, &kev)))
			return rc;
		if (kev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&kev);
			return MW_OK;
		}
		if ((rc = next(r, &vev))) {
			yaml_event_delete(&kev);
			return rc;
		}
		if (kev.type != YAML_SCALAR_EVENT || vev.type != YAML_SCALAR_EVENT) {
			snprintf(msg, sizeof(msg), "%s: entries must be 'name: value'", k->name);
			rc = fail_at(r, &kev, msg);
		} else {
			const char *name = (const char *)kev.data.scalar.value;
			rc = map_put(m, name, (const char *)vev.data.scalar.value);
			if (rc) {
				snprintf(msg, sizeof(msg), "%s.%.64s: %s", k->name, name,
					 rc == MW_ERR_INVALID ? "set twice" : mw_strerror(rc));
				rc = fail_at(r, &kev, msg);
			}
		}
		yaml_event_delete(&kev);
		yaml_event_delete(&vev);
		if (rc)
			return rc;
	}
}

static int read_mapping(struct reader *r, const char *path, int depth);

/* Handles the value event of key `full`. */
static int read_value(struct reader *r, yaml_event_t *vev, const char *full, int depth)
{
	const struct config_key *k = find_key(r->table, full);
	char msg[384], err[320];

	if (vev->type == YAML_MAPPING_START_EVENT) {
		if (k && k->type == CONF_MAP)
			return read_map(r, k);
		if (!k && is_prefix(r->table, full) && depth < DEPTH_MAX)
			return read_mapping(r, full, depth + 1);
	} else if (vev->type == YAML_SCALAR_EVENT && k) {
		if (set_value(k, r->settings, (const char *)vev->data.scalar.value, err,
			      sizeof(err)) == MW_OK)
			return MW_OK;
		return fail_at(r, vev, err);
	} else if (vev->type == YAML_ALIAS_EVENT) {
		snprintf(msg, sizeof(msg), "%s: aliases are not supported", full);
		return fail_at(r, vev, msg);
	}
	if (!k && !is_prefix(r->table, full))
		snprintf(msg, sizeof(msg), "%s: unknown key", full);
	else if (k && k->type == CONF_MAP)
		snprintf(msg, sizeof(msg), "%s: must be a mapping of names to values", full);
	else if (k)
		snprintf(msg, sizeof(msg), "%s: must be a single value", full);
	else
		snprintf(msg, sizeof(msg), "%s: must be a mapping", full);
	return fail_at(r, vev, msg);
}

/* Reads key/value pairs until the mapping ends (MAPPING_START consumed). */
static int read_mapping(struct reader *r, const char *path, int depth)
{
	char full[PATH_MAX_LEN], msg[384];
	int rc;

	for (;;) {
		yaml_event_t kev, vev;
		if ((rc = next(r, &kev)))
			return rc;
		if (kev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&kev);
			return MW_OK;
		}
		if (kev.type != YAML_SCALAR_EVENT) {
			rc = fail_at(r, &kev, "keys must be plain names");
			yaml_event_delete(&kev);
			return rc;
		}
		if ((size_t)snprintf(full, sizeof(full), "%s%s%s", path, *path ? "." : "",
				     (const char *)kev.data.scalar.value) >= sizeof(full)) {
			snprintf(msg, sizeof(msg), "%.64s...: key too long", full);
			rc = fail_at(r, &kev, msg);
			yaml_event_delete(&kev);
			return rc;
		}
		yaml_event_delete(&kev);
		if ((rc = next(r, &vev)))
			return rc;
		rc = read_value(r, &vev, full, depth);
		yaml_event_delete(&vev);
		if (rc)
			return rc;
	}
}

static int read_document(struct reader *r)
{
	yaml_event_t ev;
	int rc;

	for (;;) {
		if ((rc = next(r, &ev)))
			return rc;
		switch (ev.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			break;
		case YAML_STREAM_END_EVENT:
			yaml_event_delete(&ev);
			return MW_OK;
		case YAML_MAPPING_START_EVENT:
			yaml_event_delete(&ev);
			if ((rc = read_mapping(r, "", 0)))
				return rc;
			continue;
		case YAML_SCALAR_EVENT:
			if (ev.data.scalar.length == 0) /* an empty file */
				break;
			/* fall through */
		default:
			rc = fail_at(r, &ev, "the file must be a mapping of keys to values");
			yaml_event_delete(&ev);
			return rc;
		}
		yaml_event_delete(&ev);
	}
}

int config_load_string(const struct config_key *table, void *settings, const char *name,
		       const char *text, size_t len, char *err, size_t errlen)
{
	struct reader r = {table, settings, name, {0}, err, errlen};
	int rc;

	if (!yaml_parser_initialize(&r.parser))
		return MW_ERR_NOMEM;
	yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, len);
	rc = read_document(&r);
	yaml_parser_delete(&r.parser);
	return rc;
}

int config_load_file(const struct config_key *table, void *settings, const char *path,
		     char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	long n;
	int rc = MW_ERR_IO;

	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return MW_ERR_IO;
	}
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		goto out;
	}
	if (n > 1 << 20) {
		snprintf(err, errlen, "%s: larger than 1 MiB; is this a config file?", path);
		rc = MW_ERR_TOOBIG;
		goto out;
	}
	if (!(text = malloc((size_t)n + 1))) {
		rc = MW_ERR_NOMEM;
		goto out;
	}
	if (fread(text, 1, (size_t)n, f) != (size_t)n) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		goto out;
	}
	rc = config_load_string(table, settings, path, text, (size_t)n, err, errlen);
out:
	free(text);
	fclose(f);
	return rc;
}

int config_set(const struct config_key *table, void *settings, const char *key,
	       const char *value, char *err, size_t errlen)
{
	const struct config_key *k = find_key(table, key);
	if (!k) {
		snprintf(err, errlen, "%s: unknown key", key);
		return MW_ERR_INVALID;
	}
	return set_value(k, settings, value, err, errlen);
}

void config_free(const struct config_key *table, void *settings)
{
	for (const struct config_key *k = table; k->name; k++)
		if (k->type == CONF_MAP)
			map_clear((struct config_map *)((char *)settings + k->offset));
}

const char *config_map_get(const struct config_map *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->names[i], name) == 0)
			return m->values[i];
	return NULL;
}

/* Writes text as one Markdown table cell: a '|' would end the cell early. */
static void md_cell(FILE *out, const char *text)
{
	fputs("| ", out);
	for (; *text; text++) {
		if (*text == '|')
			fputc('\\', out);
		fputc(*text, out);
	}
	fputc(' ', out);
}

void config_write_docs(const struct config_key *table, const char *title, FILE *out)
{
	static const char *types[] = {"string", "integer", "bool", "choice", "size",
				      "duration", "map"};
	fprintf(out, "## %s\n\n| key | type | default | range | description |\n"
		     "| --- | --- | --- | --- | --- |\n", title);
	for (const struct config_key *k = table; k->name; k++) {
		char range[96] = "";
		if (k->type == CONF_ENUM)
			snprintf(range, sizeof(range), "%s", k->choices);
		else if (k->type == CONF_INT || k->type == CONF_SIZE || k->type == CONF_DURATION)
			snprintf(range, sizeof(range), "%lld to %lld%s", (long long)k->min,
				 (long long)k->max,
				 k->type == CONF_SIZE ? " bytes" : k->type == CONF_DURATION ? " ms" : "");
		fprintf(out, "| `%s` | %s ", k->name, types[k->type]);
		md_cell(out, k->def && *k->def ? k->def : "(none)");
		md_cell(out, range);
		md_cell(out, k->help);
		fputs("|\n", out);
	}
	fputc('\n', out);
}
