/* manifest.c -- the checks of an app manifest (manifest.h). */
#include "hub/manifest.h"

#include "core/config.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct chk {
	char *err;
	size_t errlen;
};

static int bad(struct chk *c, const char *path, const char *fmt, ...) MW_PRINTF(3, 4);

static int bad(struct chk *c, const char *path, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s: %s", path, why);
	return MW_ERR_INVALID;
}

static bool chars_ok(const char *s, const char *extra, bool upper)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      (upper && *s >= 'A' && *s <= 'Z') || strchr(extra, *s)))
			return false;
	return true;
}

/* Refuses members of o not in the NULL-terminated list. */
static int only(struct chk *c, json_t *o, const char *path, const char *const *known)
{
	const char *k;
	json_t *v;
	char p[160];

	json_object_foreach(o, k, v)
	{
		const char *const *n = known;
		while (*n && strcmp(*n, k) != 0)
			n++;
		if (!*n) {
			snprintf(p, sizeof(p), "%s%s%.64s", path, *path ? "." : "", k);
			return bad(c, p, "unknown field");
		}
	}
	return MW_OK;
}

static int string_field(struct chk *c, json_t *o, const char *key, const char *path, bool need,
			size_t max)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return need ? bad(c, path, "required") : MW_OK;
	if (!json_is_string(v) || json_string_length(v) == 0)
		return bad(c, path, "a non-empty string expected%s",
			   json_is_number(v) ? " (quote it)" : "");
	if (json_string_length(v) > max)
		return bad(c, path, "at most %zu characters", max);
	return MW_OK;
}

static int strings(struct chk *c, json_t *a, const char *path, bool need_one)
{
	size_t i;
	json_t *v;

	if (!a)
		return need_one ? bad(c, path, "required") : MW_OK;
	if (!json_is_array(a) || (need_one && json_array_size(a) == 0))
		return bad(c, path, "a list of strings expected");
	json_array_foreach(
		a, i, v) if (!json_is_string(v) || json_string_length(v) == 0 ||
			     json_string_length(v) >
				     4096) return bad(c, path,
						      "item %zu: a non-empty string expected", i);
	return MW_OK;
}

static int env(struct chk *c, json_t *e, const char *path)
{
	const char *k;
	json_t *v;

	if (!e)
		return MW_OK;
	if (!json_is_object(e))
		return bad(c, path, "a mapping of NAME: value expected");
	json_object_foreach(e, k, v)
	{
		if (!*k || !chars_ok(k, "_", true) || (k[0] >= '0' && k[0] <= '9'))
			return bad(c, path, "%.64s: a variable name is A-Z a-z 0-9 _", k);
		if (!json_is_string(v) && !json_is_number(v) && !json_is_boolean(v))
			return bad(c, path, "%.64s: a string, number or boolean expected", k);
	}
	return MW_OK;
}

static int ports(struct chk *c, json_t *a)
{
	size_t i;
	json_t *v;
	unsigned h, ct;
	char tail;

	if (!a)
		return MW_OK;
	if (!json_is_array(a))
		return bad(c, "runtime.container.ports", "a list expected");
	json_array_foreach(a, i, v)
	{
		json_int_t p = json_integer_value(v);
		if (json_is_integer(v) && p >= 1 && p <= 65535)
			continue;
		if (json_is_string(v) &&
		    sscanf(json_string_value(v), "%u:%u%c", &h, &ct, &tail) == 2 && h >= 1 &&
		    h <= 65535 && ct >= 1 && ct <= 65535)
			continue;
		return bad(c, "runtime.container.ports",
			   "item %zu: a port (1-65535) or \"host:container\" expected", i);
	}
	return MW_OK;
}

static int runtime(struct chk *c, json_t *r)
{
	static const char *const ck[] = {"image",   "command", "ports", "volumes",
					 "devices", "env",     NULL};
	static const char *const nk[] = {"command", "env", NULL};
	json_t *ct = json_object_get(r, "container"), *nat = json_object_get(r, "native");
	int rc;

	if (!r)
		return bad(c, "runtime", "required: container or native");
	if (!json_is_object(r) || json_object_size(r) != 1 || (!ct == !nat))
		return bad(c, "runtime", "exactly one of container or native expected");
	if (ct) {
		if (!json_is_object(ct))
			return bad(c, "runtime.container", "a mapping expected");
		if ((rc = only(c, ct, "runtime.container", ck)) ||
		    (rc = string_field(c, ct, "image", "runtime.container.image", true, 256)))
			return rc;
		if (strchr(json_string_value(json_object_get(ct, "image")), ' '))
			return bad(c, "runtime.container.image", "no spaces in an image name");
		if ((rc = ports(c, json_object_get(ct, "ports"))) ||
		    (rc = strings(c, json_object_get(ct, "volumes"), "runtime.container.volumes",
				  false)) ||
		    (rc = strings(c, json_object_get(ct, "devices"), "runtime.container.devices",
				  false)) ||
		    (rc = strings(c, json_object_get(ct, "command"), "runtime.container.command",
				  false)))
			return rc;
		return env(c, json_object_get(ct, "env"), "runtime.container.env");
	}
	if (!json_is_object(nat))
		return bad(c, "runtime.native", "a mapping expected");
	if ((rc = only(c, nat, "runtime.native", nk)) ||
	    (rc = strings(c, json_object_get(nat, "command"), "runtime.native.command", true)))
		return rc;
	return env(c, json_object_get(nat, "env"), "runtime.native.env");
}

/* ---- parameters ------------------------------------------------------------ */

static const char *const types[] = {"string", "integer", "number", "boolean", "enum", NULL};

static bool of_type(json_t *v, const char *type)
{
	if (!strcmp(type, "string") || !strcmp(type, "enum"))
		return json_is_string(v);
	if (!strcmp(type, "integer"))
		return json_is_integer(v);
	if (!strcmp(type, "number"))
		return json_is_number(v);
	return json_is_boolean(v);
}

static int parameter(struct chk *c, const char *name, json_t *p)
{
	static const char *const keys[] = {"type",    "default", "min",		"max",
					   "choices", "secret",	 "description", NULL};
	const char *type = json_string_value(json_object_get(p, "type"));
	json_t *def = json_object_get(p, "default"), *min = json_object_get(p, "min"),
	       *max = json_object_get(p, "max"), *choices = json_object_get(p, "choices");
	char path[160];
	const char *const *t = types;
	int rc;

	snprintf(path, sizeof(path), "parameters.%.64s", name);
	if (!*name || !chars_ok(name, "_-", false))
		return bad(c, path, "a parameter name is a-z 0-9 _ -");
	if (!json_is_object(p))
		return bad(c, path, "a mapping expected (type, default, ...)");
	if ((rc = only(c, p, path, keys)))
		return rc;
	while (type && *t && strcmp(*t, type))
		t++;
	snprintf(path, sizeof(path), "parameters.%.64s.type", name);
	if (!type || !*t)
		return bad(c, path, "one of string, integer, number, boolean, enum");
	snprintf(path, sizeof(path), "parameters.%.64s", name);
	if ((min && !json_is_number(min)) || (max && !json_is_number(max)))
		return bad(c, path, "min and max are numbers");
	if ((min || max) && strcmp(type, "integer") && strcmp(type, "number"))
		return bad(c, path, "min and max are for integer and number parameters");
	if (min && max && json_number_value(min) > json_number_value(max))
		return bad(c, path, "min is over max");
	if (!strcmp(type, "enum") != !!choices)
		return bad(c, path, "choices: %s",
			   choices ? "only for enum parameters" : "required for an enum");
	if (choices && (strings(c, choices, path, true)))
		return MW_ERR_INVALID;
	if (json_object_get(p, "secret") && !json_is_boolean(json_object_get(p, "secret")))
		return bad(c, path, "secret: true or false");
	if (!def)
		return MW_OK;
	snprintf(path, sizeof(path), "parameters.%.64s.default", name);
	if (!of_type(def, type))
		return bad(c, path, "a%s %s expected", strchr("ie", type[0]) ? "n" : "", type);
	if (min && json_number_value(def) < json_number_value(min))
		return bad(c, path, "%g is under min %g", json_number_value(def),
			   json_number_value(min));
	if (max && json_number_value(def) > json_number_value(max))
		return bad(c, path, "%g is over max %g", json_number_value(def),
			   json_number_value(max));
	if (choices) {
		size_t i;
		json_t *v;
		json_array_foreach(choices, i, v) if (json_equal(v, def)) return MW_OK;
		return bad(c, path, "not one of the choices");
	}
	return MW_OK;
}

static int parameters(struct chk *c, json_t *ps)
{
	const char *k;
	json_t *v;
	int rc;

	if (!ps)
		return MW_OK;
	if (!json_is_object(ps) || json_object_size(ps) > 64)
		return bad(c, "parameters", "a mapping of at most 64 parameters expected");
	json_object_foreach(ps, k, v) if ((rc = parameter(c, k, v))) return rc;
	return MW_OK;
}

static int peripherals(struct chk *c, json_t *a)
{
	static const char *const kinds[] = {"camera", "serial", "usb", "gpu", NULL};
	size_t i;
	json_t *v;

	if (!a)
		return MW_OK;
	if (!json_is_array(a))
		return bad(c, "peripherals", "a list expected");
	json_array_foreach(a, i, v)
	{
		const char *s = json_string_value(v);
		const char *const *k = kinds;
		while (s && *k && strcmp(*k, s))
			k++;
		if (!s || !*k)
			return bad(c, "peripherals", "item %zu: one of camera, serial, usb, gpu",
				   i);
	}
	return MW_OK;
}

static int resources(struct chk *c, json_t *r)
{
	static const char *const keys[] = {"cpu", "memory", NULL};
	json_t *cpu = json_object_get(r, "cpu"), *mem = json_object_get(r, "memory");
	int64_t bytes = 0;
	int rc;

	if (!r)
		return MW_OK;
	if (!json_is_object(r))
		return bad(c, "resources", "a mapping expected (cpu, memory)");
	if ((rc = only(c, r, "resources", keys)))
		return rc;
	if (cpu &&
	    (!json_is_number(cpu) || !(json_number_value(cpu) > 0) || json_number_value(cpu) > 256))
		return bad(c, "resources.cpu", "cores, a number over 0 and at most 256");
	if (mem && !(json_is_integer(mem) && json_integer_value(mem) > 0) &&
	    !(json_is_string(mem) && config_parse_size(json_string_value(mem), &bytes) == MW_OK &&
	      bytes > 0))
		return bad(c, "resources.memory", "bytes, or a size such as 256M or 2G");
	return MW_OK;
}

int manifest_check(json_t *m, char *err, size_t errlen)
{
	static const char *const keys[] = {"name",	  "version",   "vendor",
					   "description", "runtime",   "parameters",
					   "peripherals", "resources", NULL};
	struct chk c = {err, errlen};
	const char *name, *version;
	int rc;

	if (!json_is_object(m))
		return bad(&c, "manifest", "a mapping expected");
	if ((rc = only(&c, m, "", keys)) ||
	    (rc = string_field(&c, m, "name", "name", true, MANIFEST_NAME_MAX)) ||
	    (rc = string_field(&c, m, "version", "version", true, MANIFEST_VERSION_MAX)) ||
	    (rc = string_field(&c, m, "vendor", "vendor", true, 128)) ||
	    (rc = string_field(&c, m, "description", "description", false, 1024)))
		return rc;
	name = json_string_value(json_object_get(m, "name"));
	version = json_string_value(json_object_get(m, "version"));
	if (!chars_ok(name, "._-", false) ||
	    !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
		return bad(&c, "name", "a-z 0-9 . _ -, starting with a letter or digit");
	if (!chars_ok(version, ".+-", true) || !(version[0] >= '0' && version[0] <= '9'))
		return bad(&c, "version", "starts with a digit; 0-9 A-Z a-z . + - (such as 1.2.0)");
	if ((rc = runtime(&c, json_object_get(m, "runtime"))) ||
	    (rc = parameters(&c, json_object_get(m, "parameters"))) ||
	    (rc = peripherals(&c, json_object_get(m, "peripherals"))) ||
	    (rc = resources(&c, json_object_get(m, "resources"))))
		return rc;
	return MW_OK;
}

/* ---- a deployment's parameters ------------------------------------------- */

/* v as the parameter's type wants it: a string from the command line
 * ("0.8", "true") is read as the number or boolean it spells. A new
 * reference, or NULL when it cannot be. */
static json_t *coerce(json_t *v, const char *type)
{
	const char *s = json_string_value(v);
	char *end;

	if (of_type(v, type))
		return json_incref(v);
	if (!s || !*s)
		return NULL;
	if (!strcmp(type, "boolean"))
		return !strcmp(s, "true") ? json_true() : !strcmp(s, "false") ? json_false() : NULL;
	if (!strcmp(type, "integer")) {
		long long i = strtoll(s, &end, 10);
		return *end ? NULL : json_integer(i);
	}
	if (!strcmp(type, "number")) {
		double d = strtod(s, &end);
		return *end || !isfinite(d) ? NULL : json_real(d);
	}
	return NULL;
}

static int param_value(struct chk *c, const char *name, json_t *p, json_t *given, json_t *out)
{
	const char *type = json_string_value(json_object_get(p, "type"));
	json_t *min = json_object_get(p, "min"), *max = json_object_get(p, "max");
	json_t *choices = json_object_get(p, "choices"), *v, *ch;
	char path[160];
	size_t i;

	snprintf(path, sizeof(path), "params.%.64s", name);
	if (!given && !(given = json_object_get(p, "default")))
		return bad(c, path, "required: the app gives no default");
	if (!(v = coerce(given, type)))
		return bad(c, path, "a%s %s expected", strchr("ie", type[0]) ? "n" : "", type);
	json_object_set_new(out, name, v);
	if (min && json_number_value(v) < json_number_value(min))
		return bad(c, path, "%g is under min %g", json_number_value(v),
			   json_number_value(min));
	if (max && json_number_value(v) > json_number_value(max))
		return bad(c, path, "%g is over max %g", json_number_value(v),
			   json_number_value(max));
	if (!choices)
		return MW_OK;
	json_array_foreach(choices, i, ch) if (json_equal(ch, v)) return MW_OK;
	return bad(c, path, "not one of the choices");
}

int manifest_params(json_t *m, json_t *given, json_t **out, char *err, size_t errlen)
{
	struct chk c = {err, errlen};
	json_t *ps = json_object_get(m, "parameters"), *v, *res = json_object();
	const char *k;
	char path[160];
	int rc = MW_OK;

	*out = NULL;
	if (!res)
		return MW_ERR_NOMEM;
	if (given && !json_is_object(given))
		rc = bad(&c, "params", "an object of name: value expected");
	json_object_foreach(given, k, v) if (!rc && !json_object_get(ps, k))
	{
		snprintf(path, sizeof(path), "params.%.64s", k);
		rc = bad(&c, path, "%s %s has no such parameter",
			 json_string_value(json_object_get(m, "name")),
			 json_string_value(json_object_get(m, "version")));
	}
	json_object_foreach(ps, k, v)
	{
		if (!rc)
			rc = param_value(&c, k, v, json_object_get(given, k), res);
	}
	if (rc) {
		json_decref(res);
		return rc;
	}
	*out = res;
	return MW_OK;
}
