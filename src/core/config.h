/* config.h -- table-driven configuration (after Fluent Bit's config maps).
 *
 * A program declares each key once in a table: dotted name, type, bounds,
 * default, where it lives in the program's settings struct, and one line of
 * help. The YAML reader, the command-line overrides, the unknown-key check
 * and the generated docs (`--help-config`) all follow that table.
 *
 * Nested YAML mappings name keys by path: `uplink: {batch_events: 500}` sets
 * `uplink.batch_events`. A CONF_MAP key takes a mapping of free names to
 * strings (e.g. node id -> token). */
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
	int64_t min, max;    /* CONF_INT, CONF_SIZE, CONF_DURATION */
	const char *def;     /* default, written as in the file; NULL = empty/0 */
	const char *choices; /* CONF_ENUM: "normal|full" */
	const char *help;
};

#define CONFIG_END {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL}

/* Fills settings with every key's default. */
int config_defaults(const struct config_key *table, void *settings) MW_MUST_CHECK;
/* Reads a YAML file over the current settings. Errors name the file, the
 * line and the key: "edge.yaml:7: uplink.batch_events: must be between 1
 * and 100000". */
int config_load_file(const struct config_key *table, void *settings, const char *path,
		     char *err, size_t errlen) MW_MUST_CHECK;
/* Same, from a string (tests, fuzzing); name is used in messages. */
int config_load_string(const struct config_key *table, void *settings, const char *name,
		       const char *text, size_t len, char *err, size_t errlen) MW_MUST_CHECK;
/* Sets one key from text, as a command-line override would. */
int config_set(const struct config_key *table, void *settings, const char *key,
	       const char *value, char *err, size_t errlen) MW_MUST_CHECK;
/* Frees what CONF_MAP keys own. */
void config_free(const struct config_key *table, void *settings);
/* Writes the table as Markdown (the source of docs/configuration.md). */
void config_write_docs(const struct config_key *table, const char *title, FILE *out);
/* Looks a name up in a CONF_MAP; NULL when absent. */
const char *config_map_get(const struct config_map *m, const char *name);

#endif
