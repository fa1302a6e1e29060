/* config.h -- table-driven configuration (after Fluent Bit's config maps).
 *
 * A program declares each key once in a table: dotted name, type, bounds,
 * default, where it lives in the program's settings struct, and one line of
 * help. The YAML reader, the command-line overrides, the unknown-key check
 * and the generated docs (`--help-config`) all follow that table.
 *
 * Nested YAML mappings name keys by path: `uplink: {batch_events: 500}` sets
 * `uplink.batch_events`. A CONF_MAP key takes a mapping of free names to
 * strings (e.g. node id -> token).
 *
 * A CONF_LIST key takes a sequence of mappings (cameras, each with zones):
 * each mapping is read against the key's own sub-table into one element
 * struct, which starts from the sub-table's defaults. Sub-tables may hold
 * lists again (at most CONFIG_LIST_DEPTH levels) and maps. A file that sets
 * a list replaces the whole list; messages name elements by index, as in
 * "edge.yaml:14: cameras[1].zones[0].polygon: point 2: must be two integers
 * [x, y]". Lists are only read from files, never from config_set(). */
#ifndef MW_CONFIG_H
#define MW_CONFIG_H

#include "core/mw.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum config_type {
	CONF_STRING,   /* char[size] */
	CONF_INT,      /* int64_t, within [min, max] */
	CONF_BOOL,     /* bool: true/false/yes/no/on/off */
	CONF_ENUM,     /* int: index into the '|'-separated choices */
	CONF_SIZE,     /* int64_t bytes: 512, 64K, 10M, 2G */
	CONF_DURATION, /* int64_t milliseconds: 250ms, 10s, 5m, 1h */
	CONF_MAP,      /* struct config_map: name -> string */
	CONF_LIST,     /* struct config_list of elem_size elements read by sub; max entries */
	CONF_POINTS,   /* struct config_points: [[x, y], ...] or "x,y x,y"; min..max points */
	CONF_RECT,     /* struct config_rect: [x, y, w, h] or "x,y,w,h"; w, h >= 1 */
	CONF_DOUBLE,   /* double, within [dmin, dmax] */
};

#define CONFIG_POINTS_MAX 32     /* caps a CONF_POINTS key's max */
#define CONFIG_LIST_DEPTH 4      /* lists inside lists, counting the outermost */
#define CONFIG_COORD_MAX  100000 /* |x|, |y|, w and h of points and rects */

struct config_list {
	size_t n;
	void *items; /* n elements of the key's elem_size bytes */
};

/* n == 0 means not set (no default); a set value has min..max points. */
struct config_points {
	int n;
	int xy[2 * CONFIG_POINTS_MAX]; /* x0, y0, x1, y1, ... */
};

struct config_rect {
	int x, y, w, h; /* all 0 when not set */
};

struct config_map {
	size_t n;
	char **names;
	char **values;
};

struct config_key {
	const char *name;
	enum config_type type;
	size_t offset;       /* offsetof(settings struct, field) */
	size_t size;         /* CONF_STRING: the buffer's size */
	int64_t min, max;    /* CONF_INT, CONF_SIZE, CONF_DURATION; CONF_POINTS: points;
			      * CONF_LIST: max = most entries */
	const char *def;     /* default, written as in the file; NULL = empty/0 */
	const char *choices; /* CONF_ENUM: "normal|full" */
	const char *help;
	/* Appended last so positional rows can give them zeros; a CONF_LIST or
	 * CONF_DOUBLE row is clearest with designated initializers:
	 * {.name = "cameras", .type = CONF_LIST, .offset = ..., .max = 16,
	 *  .sub = camera_keys, .elem_size = sizeof(struct camera), .help = ...} */
	const struct config_key *sub; /* CONF_LIST: the element's table */
	size_t elem_size;             /* CONF_LIST: sizeof the element struct */
	double dmin, dmax;            /* CONF_DOUBLE */
};

/* One element of a CONF_LIST: the list's items as an array of T. */
#define CONFIG_LIST_AT(list, T, i) (&((T *)(list)->items)[i])

#define CONFIG_END {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0, 0, 0}

/* Fills settings with every key's default; lists and maps start empty.
 * Overwrites without freeing: on settings that hold lists or maps, call
 * config_free() first. */
int config_defaults(const struct config_key *table, void *settings) MW_MUST_CHECK;
/* Reads a YAML file over the current settings. Errors name the file, the
 * line and the key: "edge.yaml:7: uplink.batch_events: must be between 1
 * and 100000". */
int config_load_file(const struct config_key *table, void *settings, const char *path,
		     char *err, size_t errlen) MW_MUST_CHECK;
/* Same, from a string (tests, fuzzing); name is used in messages. */
/* "250ms", "10s", "5m", "12h", "30d" in milliseconds; MW_ERR_INVALID
 * otherwise. What CONF_DURATION keys take, for durations in requests too. */
int config_parse_duration(const char *s, int64_t *ms) MW_MUST_CHECK;
/* "512", "64K", "10M", "2G" (also KB/KiB, MB/MiB, GB/GiB) in bytes;
 * MW_ERR_INVALID otherwise. What CONF_SIZE keys take, and app manifests'
 * resources.memory. */
int config_parse_size(const char *s, int64_t *bytes) MW_MUST_CHECK;

int config_load_string(const struct config_key *table, void *settings, const char *name,
		       const char *text, size_t len, char *err, size_t errlen) MW_MUST_CHECK;
/* Sets one key from text, as a command-line override would. List keys are
 * refused; points and rects take their one-line forms ("x,y x,y", "x,y,w,h"). */
int config_set(const struct config_key *table, void *settings, const char *key,
	       const char *value, char *err, size_t errlen) MW_MUST_CHECK;
/* Frees what CONF_MAP and CONF_LIST keys own (lists recursively) and leaves
 * them empty. */
void config_free(const struct config_key *table, void *settings);
/* Writes the table as Markdown (the source of docs/configuration.md). */
void config_write_docs(const struct config_key *table, const char *title, FILE *out);
/* Looks a name up in a CONF_MAP; NULL when absent. */
const char *config_map_get(const struct config_map *m, const char *name);

#endif
