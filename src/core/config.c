/* config.c -- YAML config reader driven by a key table; see config.h.
 *
 * libyaml's event parser walks the document; we keep the dotted path of
 * the mapping we are in and look each scalar key up in the table. Every
 * error carries the file, the line (1-based) and the full key name.
 *
 * A list element is read like a small file of its own: a `struct scope`
 * names its table, the struct its keys land in, and the prefix messages
 * show ("cameras[1].zones[0]"). Inside an element a key set twice is an
 * error, since the element is new and the second value can only be a
 * slip. A list is built aside and replaces the old one only once all of it
 * was read: a refused file leaves no half-read list, a second file frees
 * the first one's. */
#include "core/config.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define PATH_MAX_LEN 256
#define DEPTH_MAX 16
#define MAP_MAX 4096
#define MSG_LEN 384
#define LINE(ev) ((ev)->start_mark.line + 1)

struct reader {
	const char *name;
	yaml_parser_t parser;
	char *err;
	size_t errlen;
};

struct scope {
	const struct config_key *table;
	void *base;         /* the settings struct, or one list element */
	const char *prefix; /* shown before keys: "" or "cameras[1]" */
	bool *seen;         /* per table row, inside list elements; NULL at the top */
	int lists;          /* lists this scope is nested in */
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

static size_t table_len(const struct config_key *t)
{
	size_t n = 0;
	while (t[n].name)
		n++;
	return n;
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

int config_parse_duration(const char *s, int64_t *ms)
{
	static const char *const units[] = {"ms", "s", "m", "h", "d", NULL};
	static const int64_t f[] = {1, 1000, 60000, 3600000, 86400000};

	return parse_scaled(s, units, f, ms);
}

int config_parse_size(const char *s, int64_t *bytes)
{
	static const char *const units[] = {"", "B", "K", "KB", "KiB", "M", "MB", "MiB",
					    "G", "GB", "GiB", NULL};
	static const int64_t f[] = {1, 1, 1024, 1024, 1024, 1 << 20, 1 << 20, 1 << 20,
				    1 << 30, 1 << 30, 1 << 30};

	return parse_scaled(s, units, f, bytes);
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

static int parse_coord(const char *s, int *out)
{
	int64_t v;
	if (mw_parse_i64(s, -CONFIG_COORD_MAX, CONFIG_COORD_MAX, &v))
		return MW_ERR_INVALID;
	*out = (int)v;
	return MW_OK;
}

/* Cuts blanks off both ends of s, in place. */
static char *trim(char *s)
{
	size_t n;

	s += strspn(s, " \t");
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

/* Parses exactly n comma-separated integers: "10,20" or "10, 20, 30, 40". */
static int parse_ints(const char *s, size_t len, int *out, int n)
{
	char buf[64];
	char *p = buf;

	if (len >= sizeof(buf))
		return MW_ERR_INVALID;
	memcpy(buf, s, len);
	buf[len] = '\0';
	for (int i = 0; i < n; i++) {
		char *comma = strchr(p, ',');
		if ((comma != NULL) != (i < n - 1))
			return MW_ERR_INVALID;
		if (comma)
			*comma = '\0';
		if (parse_coord(trim(p), &out[i]))
			return MW_ERR_INVALID;
		if (comma)
			p = comma + 1;
	}
	return MW_OK;
}

static int points_max(const struct config_key *k)
{
	return k->max > 0 && k->max < CONFIG_POINTS_MAX ? (int)k->max : CONFIG_POINTS_MAX;
}

/* The checks both spellings of points share once all points are read. */
static int points_check(const struct config_key *k, const char *shown, int n, char *err,
			size_t errlen)
{
	if (n > points_max(k)) {
		snprintf(err, errlen, "%s: at most %d points", shown, points_max(k));
		return MW_ERR_INVALID;
	}
	if (n < k->min) {
		snprintf(err, errlen, "%s: must have %s %lld points, not %d", shown,
			 k->min == k->max ? "exactly" : "at least", (long long)k->min, n);
		return MW_ERR_INVALID;
	}
	return MW_OK;
}

/* "100,200 300,200 300,400": points apart by blanks, x and y by a comma. */
static int set_points_text(const struct config_key *k, void *field, const char *shown,
			   const char *v, char *err, size_t errlen)
{
	struct config_points p = {0};

	for (const char *s = v + strspn(v, " \t"); *s; s += strspn(s, " \t")) {
		size_t len = strcspn(s, " \t");
		if (p.n >= points_max(k))
			return points_check(k, shown, p.n + 1, err, errlen);
		if (parse_ints(s, len, &p.xy[2 * p.n], 2)) {
			snprintf(err, errlen, "%s: point %d: '%.*s' is not x,y", shown, p.n + 1,
				 (int)(len > 40 ? 40 : len), s);
			return MW_ERR_INVALID;
		}
		p.n++;
		s += len;
	}
	if (points_check(k, shown, p.n, err, errlen))
		return MW_ERR_INVALID;
	memcpy(field, &p, sizeof(p));
	return MW_OK;
}

static int rect_set(void *field, const char *shown, const int *v, char *err, size_t errlen)
{
	struct config_rect rc = {v[0], v[1], v[2], v[3]};

	if (rc.w < 1 || rc.h < 1) {
		snprintf(err, errlen, "%s: width and height must be at least 1", shown);
		return MW_ERR_INVALID;
	}
	memcpy(field, &rc, sizeof(rc));
	return MW_OK;
}

static int set_rect_text(void *field, const char *shown, const char *v, char *err,
			 size_t errlen)
{
	int xywh[4];

	if (parse_ints(v, strlen(v), xywh, 4)) {
		snprintf(err, errlen, "%s: '%.40s' is not x,y,w,h (integers within +-%d)", shown,
			 v, CONFIG_COORD_MAX);
		return MW_ERR_INVALID;
	}
	return rect_set(field, shown, xywh, err, errlen);
}

static int set_double(const struct config_key *k, void *field, const char *shown, const char *v,
		      char *err, size_t errlen)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (end == v || *end || !isfinite(d)) {
		snprintf(err, errlen, "%s: '%.40s' is not a number", shown, v);
		return MW_ERR_INVALID;
	}
	if (d < k->dmin || d > k->dmax) {
		snprintf(err, errlen, "%s: %g is out of range [%g, %g]", shown, d, k->dmin,
			 k->dmax);
		return MW_ERR_INVALID;
	}
	*(double *)field = d;
	return MW_OK;
}

/* Parses the int64_t types (CONF_INT, CONF_SIZE, CONF_DURATION) and checks bounds. */
static int set_number(const struct config_key *k, void *field, const char *shown, const char *v,
		      char *err, size_t errlen)
{
	int64_t n = 0;

	if (k->type == CONF_INT && mw_parse_i64(v, INT64_MIN, INT64_MAX, &n)) {
		snprintf(err, errlen, "%s: '%.40s' is not a whole number", shown, v);
		return MW_ERR_INVALID;
	}
	if (k->type == CONF_SIZE && config_parse_size(v, &n)) {
		snprintf(err, errlen, "%s: '%.40s' is not a size (like 512K, 64M, 2G)", shown, v);
		return MW_ERR_INVALID;
	}
	if (k->type == CONF_DURATION && config_parse_duration(v, &n)) {
		snprintf(err, errlen, "%s: '%.40s' is not a duration (like 250ms, 10s, 5m)", shown,
			 v);
		return MW_ERR_INVALID;
	}
	if (n < k->min || n > k->max) {
		snprintf(err, errlen, "%s: %lld is out of range [%lld, %lld]", shown, (long long)n,
			 (long long)k->min, (long long)k->max);
		return MW_ERR_INVALID;
	}
	*(int64_t *)field = n;
	return MW_OK;
}

/* Sets key k of the struct at base from its text; shown names it in messages. */
static int set_value(const struct config_key *k, void *base, const char *shown, const char *v,
		     char *err, size_t errlen)
{
	char *field = (char *)base + k->offset;

	switch (k->type) {
	case CONF_STRING:
		if (strlen(v) >= k->size) {
			snprintf(err, errlen, "%s: longer than %zu characters", shown, k->size - 1);
			return MW_ERR_INVALID;
		}
		mw_strlcpy(field, v, k->size);
		return MW_OK;
	case CONF_BOOL:
		if (parse_bool(v, (bool *)field) == MW_OK)
			return MW_OK;
		snprintf(err, errlen, "%s: '%.40s' is not true or false", shown, v);
		return MW_ERR_INVALID;
	case CONF_ENUM:
		if (parse_enum(k->choices, v, (int *)field) == MW_OK)
			return MW_OK;
		snprintf(err, errlen, "%s: '%.40s' is not one of %s", shown, v, k->choices);
		return MW_ERR_INVALID;
	case CONF_INT:
	case CONF_SIZE:
	case CONF_DURATION:
		return set_number(k, field, shown, v, err, errlen);
	case CONF_DOUBLE:
		return set_double(k, field, shown, v, err, errlen);
	case CONF_POINTS:
		return set_points_text(k, field, shown, v, err, errlen);
	case CONF_RECT:
		return set_rect_text(field, shown, v, err, errlen);
	case CONF_MAP:
		snprintf(err, errlen, "%s: must be a mapping of names to values", shown);
		return MW_ERR_INVALID;
	case CONF_LIST:
		snprintf(err, errlen, "%s: lists can only be set in the config file", shown);
		return MW_ERR_INVALID;
	}
	snprintf(err, errlen, "%s: unknown type in the program's table", shown);
	return MW_ERR_INVALID;
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

static void free_at(const struct config_key *table, void *base);

static void list_clear(const struct config_key *k, struct config_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free_at(k->sub, (char *)l->items + i * k->elem_size);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

static void free_at(const struct config_key *table, void *base)
{
	for (const struct config_key *k = table; k->name; k++) {
		void *field = (char *)base + k->offset;
		if (k->type == CONF_MAP)
			map_clear(field);
		else if (k->type == CONF_LIST)
			list_clear(k, field);
	}
}

void config_free(const struct config_key *table, void *settings)
{
	free_at(table, settings);
}

/* Fills base with the table's defaults; a default that does not parse is a
 * bug in the program's table. */
static int defaults_at(const struct config_key *table, void *base, char *err, size_t errlen)
{
	for (const struct config_key *k = table; k->name; k++) {
		char *field = (char *)base + k->offset;
		switch (k->type) {
		case CONF_STRING: field[0] = '\0'; break;
		case CONF_BOOL: *(bool *)field = false; break;
		case CONF_ENUM: *(int *)field = 0; break;
		case CONF_DOUBLE: *(double *)field = 0; break;
		case CONF_MAP: memset(field, 0, sizeof(struct config_map)); break;
		case CONF_LIST: memset(field, 0, sizeof(struct config_list)); break;
		case CONF_POINTS: memset(field, 0, sizeof(struct config_points)); break;
		case CONF_RECT: memset(field, 0, sizeof(struct config_rect)); break;
		default: *(int64_t *)field = 0; break;
		}
		if (k->def && k->type != CONF_MAP && k->type != CONF_LIST &&
		    set_value(k, base, k->name, k->def, err, errlen))
			return MW_ERR_INVALID;
	}
	return MW_OK;
}

int config_defaults(const struct config_key *table, void *settings)
{
	char err[256];
	return defaults_at(table, settings, err, sizeof(err));
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

static int fail_line(struct reader *r, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail_line(struct reader *r, size_t line, const char *fmt, ...)
{
	char msg[MSG_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(r->err, r->errlen, "%s:%zu: %s", r->name, line, msg);
	return MW_ERR_INVALID;
}

/* Reads a CONF_MAP's mapping of scalars (MAPPING_START already consumed). */
static int read_map(struct reader *r, struct config_map *m, const char *shown)
{
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
			rc = fail_line(r, LINE(&kev), "%s: entries must be 'name: value'", shown);
		} else {
			const char *name = (const char *)kev.data.scalar.value;
			rc = map_put(m, name, (const char *)vev.data.scalar.value);
			if (rc)
				rc = fail_line(
					r, LINE(&kev), "%s.%.64s: %s", shown, name,
					rc == MW_ERR_INVALID ? "set twice" : mw_strerror(rc));
		}
		yaml_event_delete(&kev);
		yaml_event_delete(&vev);
		if (rc)
			return rc;
	}
}

/* Reads "[a, b, ...]" of exactly n integers after its SEQUENCE_START.
 * Returns 1 for any other shape, with *line where it went wrong. */
static int read_int_seq(struct reader *r, int *out, int n, size_t *line)
{
	for (int i = 0;; i++) {
		yaml_event_t ev;
		bool end, ok;
		int rc = next(r, &ev);

		if (rc)
			return rc;
		*line = LINE(&ev);
		end = ev.type == YAML_SEQUENCE_END_EVENT;
		ok = i < n && ev.type == YAML_SCALAR_EVENT &&
		     parse_coord((const char *)ev.data.scalar.value, &out[i]) == MW_OK;
		yaml_event_delete(&ev);
		if (end)
			return i == n ? MW_OK : 1;
		if (!ok)
			return 1;
	}
}

/* Reads [[x, y], ...] (SEQUENCE_START at line0 consumed) into a points field. */
static int read_points(struct reader *r, const struct config_key *k, void *field,
		       const char *shown, size_t line0)
{
	struct config_points p = {0};
	char err[MSG_LEN];

	for (;;) {
		yaml_event_t ev;
		yaml_event_type_t type;
		size_t line;
		int rc = next(r, &ev);

		if (rc)
			return rc;
		line = LINE(&ev);
		type = ev.type;
		yaml_event_delete(&ev);
		if (type == YAML_SEQUENCE_END_EVENT)
			break;
		if (p.n >= points_max(k))
			return fail_line(r, line, "%s: at most %d points", shown, points_max(k));
		rc = 1;
		if (type == YAML_SEQUENCE_START_EVENT)
			rc = read_int_seq(r, &p.xy[2 * p.n], 2, &line);
		if (rc < 0)
			return rc;
		if (rc > 0)
			return fail_line(r, line, "%s: point %d: must be two integers [x, y]",
					 shown, p.n + 1);
		p.n++;
	}
	if (points_check(k, shown, p.n, err, sizeof(err)))
		return fail_line(r, line0, "%s", err);
	memcpy(field, &p, sizeof(p));
	return MW_OK;
}

/* Reads [x, y, w, h] (SEQUENCE_START consumed) into a rect field. */
static int read_rect(struct reader *r, void *field, const char *shown, size_t line)
{
	char err[MSG_LEN];
	int v[4];
	int rc = read_int_seq(r, v, 4, &line);

	if (rc < 0)
		return rc;
	if (rc > 0)
		return fail_line(r, line, "%s: must be four integers [x, y, w, h]", shown);
	if (rect_set(field, shown, v, err, sizeof(err)))
		return fail_line(r, line, "%s", err);
	return MW_OK;
}

static int read_mapping(struct reader *r, const struct scope *sc, const char *path, int depth);

/* Reads one list entry, whose first event is ev, as element l->n of list k. */
static int read_element(struct reader *r, const struct scope *sc, const struct config_key *k,
			const char *shown, struct config_list *l, const yaml_event_t *ev,
			int depth)
{
	char prefix[PATH_MAX_LEN], err[MSG_LEN];
	struct scope child;
	void *items, *elem;
	int rc;

	if (ev->type == YAML_ALIAS_EVENT)
		return fail_line(r, LINE(ev), "%s[%zu]: aliases are not supported", shown, l->n);
	if (ev->type != YAML_MAPPING_START_EVENT)
		return fail_line(r, LINE(ev),
				 "%s[%zu]: each entry must be a mapping of keys to values", shown,
				 l->n);
	if ((int64_t)l->n >= k->max)
		return fail_line(r, LINE(ev), "%s: at most %lld entries", shown, (long long)k->max);
	if ((size_t)snprintf(prefix, sizeof(prefix), "%s[%zu]", shown, l->n) >= sizeof(prefix))
		return fail_line(r, LINE(ev), "%.64s...: key too long", prefix);
	items = realloc(l->items, (l->n + 1) * k->elem_size);
	if (!items) {
		fail_line(r, LINE(ev), "%s: out of memory", prefix);
		return MW_ERR_NOMEM;
	}
	l->items = items;
	elem = (char *)items + l->n * k->elem_size;
	memset(elem, 0, k->elem_size);
	l->n++;
	if (defaults_at(k->sub, elem, err, sizeof(err)))
		return fail_line(r, LINE(ev), "%s: bad default in the program: %s", prefix, err);
	child = (struct scope){k->sub, elem, prefix, calloc(table_len(k->sub) + 1, sizeof(bool)),
			       sc->lists + 1};
	if (!child.seen) {
		fail_line(r, LINE(ev), "%s: out of memory", prefix);
		return MW_ERR_NOMEM;
	}
	rc = read_mapping(r, &child, "", depth + 1);
	free(child.seen);
	return rc;
}

/* Reads a CONF_LIST's sequence (SEQUENCE_START consumed); the list read
 * replaces the field's only when all of it was accepted. */
static int read_list(struct reader *r, const struct scope *sc, const struct config_key *k,
		     const char *shown, size_t line, int depth)
{
	struct config_list tmp = {0}, *field = (struct config_list *)((char *)sc->base + k->offset);
	int rc;

	assert(k->sub && k->elem_size > 0);
	if (sc->lists >= CONFIG_LIST_DEPTH)
		return fail_line(r, line, "%s: lists nested deeper than %d levels", shown,
				 CONFIG_LIST_DEPTH);
	for (;;) {
		yaml_event_t ev;
		if ((rc = next(r, &ev)))
			goto out;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		rc = read_element(r, sc, k, shown, &tmp, &ev, depth);
		yaml_event_delete(&ev);
		if (rc)
			goto out;
	}
	list_clear(k, field);
	*field = tmp;
	return MW_OK;
out:
	list_clear(k, &tmp);
	return rc;
}

/* Reads the value of table key k, whose first event is vev. */
static int read_keyed(struct reader *r, const struct scope *sc, const struct config_key *k,
		      const yaml_event_t *vev, const char *shown, int depth)
{
	char *field = (char *)sc->base + k->offset, err[MSG_LEN];
	bool seq = vev->type == YAML_SEQUENCE_START_EVENT;

	if (k->type == CONF_MAP && vev->type == YAML_MAPPING_START_EVENT)
		return read_map(r, (struct config_map *)field, shown);
	if (k->type == CONF_LIST && seq)
		return read_list(r, sc, k, shown, LINE(vev), depth);
	if (k->type == CONF_LIST && vev->type == YAML_SCALAR_EVENT &&
	    vev->data.scalar.length == 0 && vev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		list_clear(k, (struct config_list *)field); /* `cameras:` with nothing under it */
		return MW_OK;
	}
	if (k->type == CONF_POINTS && seq)
		return read_points(r, k, field, shown, LINE(vev));
	if (k->type == CONF_RECT && seq)
		return read_rect(r, field, shown, LINE(vev));
	if (k->type == CONF_LIST)
		return fail_line(r, LINE(vev), "%s: must be a list of entries (- key: value)",
				 shown);
	if (vev->type != YAML_SCALAR_EVENT)
		return fail_line(r, LINE(vev), "%s: must be %s", shown,
				 k->type == CONF_MAP	? "a mapping of names to values"
				 : k->type == CONF_POINTS ? "a list of points [[x, y], ...]"
				 : k->type == CONF_RECT	? "[x, y, w, h]"
							: "a single value");
	if (set_value(k, sc->base, shown, (const char *)vev->data.scalar.value, err, sizeof(err)))
		return fail_line(r, LINE(vev), "%s", err);
	return MW_OK;
}

/* Handles the value event of key `full` (its name in the scope's table). */
static int read_value(struct reader *r, const struct scope *sc, const yaml_event_t *vev,
		      const char *full, const char *shown, int depth)
{
	const struct config_key *k = find_key(sc->table, full);
	bool prefix = !k && is_prefix(sc->table, full);

	if (vev->type == YAML_ALIAS_EVENT)
		return fail_line(r, LINE(vev), "%s: aliases are not supported", shown);
	if (prefix && vev->type == YAML_MAPPING_START_EVENT && depth < DEPTH_MAX)
		return read_mapping(r, sc, full, depth + 1);
	if (!k)
		return fail_line(r, LINE(vev), "%s: %s", shown,
				 prefix ? "must be a mapping" : "unknown key");
	if (sc->seen) {
		if (sc->seen[k - sc->table])
			return fail_line(r, LINE(vev), "%s: set twice", shown);
		sc->seen[k - sc->table] = true;
	}
	return read_keyed(r, sc, k, vev, shown, depth);
}

/* Reads key/value pairs until the mapping ends (MAPPING_START consumed). */
static int read_mapping(struct reader *r, const struct scope *sc, const char *path, int depth)
{
	char full[PATH_MAX_LEN], shown[PATH_MAX_LEN];
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
			rc = fail_line(r, LINE(&kev), "keys must be plain names");
			yaml_event_delete(&kev);
			return rc;
		}
		if ((size_t)snprintf(full, sizeof(full), "%s%s%s", path, *path ? "." : "",
				     (const char *)kev.data.scalar.value) >= sizeof(full) ||
		    (size_t)snprintf(shown, sizeof(shown), "%s%s%s", sc->prefix,
				     *sc->prefix ? "." : "", full) >= sizeof(shown)) {
			rc = fail_line(r, LINE(&kev), "%.64s...: key too long", shown);
			yaml_event_delete(&kev);
			return rc;
		}
		yaml_event_delete(&kev);
		if ((rc = next(r, &vev)))
			return rc;
		rc = read_value(r, sc, &vev, full, shown, depth);
		yaml_event_delete(&vev);
		if (rc)
			return rc;
	}
}

static int read_document(struct reader *r, const struct scope *top)
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
			if ((rc = read_mapping(r, top, "", 0)))
				return rc;
			continue;
		case YAML_SCALAR_EVENT:
			if (ev.data.scalar.length == 0) /* an empty file */
				break;
			/* fall through */
		default:
			rc = fail_line(r, LINE(&ev),
				       "the file must be a mapping of keys to values");
			yaml_event_delete(&ev);
			return rc;
		}
		yaml_event_delete(&ev);
	}
}

int config_load_string(const struct config_key *table, void *settings, const char *name,
		       const char *text, size_t len, char *err, size_t errlen)
{
	struct reader r = {name, {0}, err, errlen};
	struct scope top = {table, settings, "", NULL, 0};
	int rc;

	if (!yaml_parser_initialize(&r.parser))
		return MW_ERR_NOMEM;
	yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, len);
	rc = read_document(&r, &top);
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
	return set_value(k, settings, k->name, value, err, errlen);
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

static void docs_range(const struct config_key *k, char *range, size_t cap)
{
	const char *unit = k->type == CONF_SIZE ? " bytes" : k->type == CONF_DURATION ? " ms" : "";

	range[0] = '\0';
	if (k->type == CONF_ENUM)
		snprintf(range, cap, "%s", k->choices);
	else if (k->type == CONF_INT || k->type == CONF_SIZE || k->type == CONF_DURATION)
		snprintf(range, cap, "%lld to %lld%s", (long long)k->min, (long long)k->max, unit);
	else if (k->type == CONF_DOUBLE)
		snprintf(range, cap, "%g to %g", k->dmin, k->dmax);
	else if (k->type == CONF_LIST)
		snprintf(range, cap, "at most %lld entries", (long long)k->max);
	else if (k->type == CONF_POINTS && k->min == k->max)
		snprintf(range, cap, "%lld points [[x, y], ...] or \"x,y x,y\"", (long long)k->min);
	else if (k->type == CONF_POINTS)
		snprintf(range, cap, "%lld to %lld points [[x, y], ...] or \"x,y x,y ...\"",
			 (long long)k->min, (long long)points_max(k));
	else if (k->type == CONF_RECT)
		snprintf(range, cap, "[x, y, w, h], w and h at least 1");
}

/* Writes the rows of table, whose names are shown after prefix ("cameras[]."),
 * and of the sub-tables of its lists. */
static void docs_rows(const struct config_key *table, const char *prefix, int lists, FILE *out)
{
	static const char *types[] = {"string", "integer", "bool",   "choice", "size",  "duration",
				      "map",    "list",    "points", "rect",   "number"};

	for (const struct config_key *k = table; k->name; k++) {
		char range[96], sub[PATH_MAX_LEN];
		docs_range(k, range, sizeof(range));
		fprintf(out, "| `%s%s` | %s ", prefix, k->name, types[k->type]);
		md_cell(out, k->def && *k->def ? k->def : "(none)");
		md_cell(out, range);
		md_cell(out, k->help);
		fputs("|\n", out);
		/* The depth cap also stops a table that lists itself. */
		if (k->type == CONF_LIST && lists < CONFIG_LIST_DEPTH &&
		    (size_t)snprintf(sub, sizeof(sub), "%s%s[].", prefix, k->name) < sizeof(sub))
			docs_rows(k->sub, sub, lists + 1, out);
	}
}

void config_write_docs(const struct config_key *table, const char *title, FILE *out)
{
	fprintf(out, "## %s\n\n| key | type | default | range | description |\n"
		     "| --- | --- | --- | --- | --- |\n", title);
	docs_rows(table, "", 0, out);
	fputc('\n', out);
}
