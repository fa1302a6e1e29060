/* yamljson.h -- a YAML document as a jansson tree, for files people write
 * (app manifests) that the hub handles as JSON.
 *
 * Mappings become objects (keys must be scalars; a repeated key is an
 * error), sequences arrays. Plain scalars become what they look like:
 * true/false, null/~ (and empty), integers, decimal numbers, else strings;
 * quoted scalars are always strings. Anchors, aliases, tags and more than
 * one document are refused: a manifest needs none of them, and aliases are
 * how a small file becomes a huge tree. Nesting is capped at 32 levels and
 * the input at 1 MiB. JSON is YAML, so a JSON manifest reads the same. */
#ifndef MW_YAMLJSON_H
#define MW_YAMLJSON_H

#include "core/mw.h"

#include <jansson.h>
#include <stddef.h>

#define YAMLJSON_MAX_BYTES (1u << 20)
#define YAMLJSON_MAX_DEPTH 32

/* The document's root in *out (a new reference), or MW_ERR_INVALID with
 * "line N: what" in err. An empty document is MW_ERR_INVALID too. */
int yamljson_parse(const char *text, size_t len, json_t **out, char *err,
		   size_t errlen) MW_MUST_CHECK;

#endif
