/* catalog.c -- the app catalog's endpoints (catalog.h). */
#include "hub/catalog.h"

#include "core/yamljson.h"
#include "hub/manifest.h"
#include "hub/users.h"

#include <stdlib.h>
#include <string.h>

static int put_app(struct hub *h, void *arg) { return h->db->ops->app_put(h->db, arg); }

void catalog_add(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	char err[300] = "", what[128];
	struct db_app a = {.created = mw_now_ns()};
	json_t *m = NULL;
	int rc;

	if (yamljson_parse(req->body.data ? (const char *)req->body.data : "", req->body.len, &m,
			   err, sizeof(err))) {
		http_error(resp, 400, "manifest: %s", err);
		users_audit(h, req, "app.add", "", "failed", "unreadable manifest");
		return;
	}
	if (manifest_check(m, err, sizeof(err))) {
		http_error(resp, 400, "%s", err);
		users_audit(h, req, "app.add", json_string_value(json_object_get(m, "name")),
			    "failed", err);
		json_decref(m);
		return;
	}
	mw_strlcpy(a.name, json_string_value(json_object_get(m, "name")), sizeof(a.name));
	mw_strlcpy(a.version, json_string_value(json_object_get(m, "version")), sizeof(a.version));
	a.manifest = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	rc = a.manifest ? hub_write(h, put_app, &a) : MW_ERR_NOMEM;
	snprintf(what, sizeof(what), "%s@%s", a.name, a.version);
	if (rc == MW_ERR_EXISTS)
		http_error(resp, 409,
			   "%s is in the catalog already; a version never changes: "
			   "give the new one another version",
			   what);
	else if (rc)
		http_error(resp, 503, "cannot store the app: %s", mw_strerror(rc));
	else
		http_json(resp, 201, json_pack("{s:s, s:s}", "name", a.name, "version", a.version));
	users_audit(h, req, "app.add", what, rc ? "failed" : "ok", "");
	free(a.manifest);
	json_decref(m);
}

void catalog_list(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	struct db_app *a;
	size_t n;
	json_t *apps = json_array(), *cur = NULL;
	int rc = h->db->ops->apps_list(h->db, NULL, &a, &n);

	if (rc) {
		json_decref(apps);
		http_error(resp, 503, "cannot read the catalog: %s", mw_strerror(rc));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *m = json_loads(a[i].manifest, 0, NULL);
		if (!cur || strcmp(json_string_value(json_object_get(cur, "name")), a[i].name)) {
			cur = json_pack("{s:s, s:[]}", "name", a[i].name, "versions");
			json_array_append_new(apps, cur);
		}
		/* the newest version says what the app is */
		json_object_set(cur, "vendor", json_object_get(m, "vendor"));
		json_object_set_new(
			cur, "description",
			json_string(json_string_value(json_object_get(m, "description"))
					    ? json_string_value(json_object_get(m, "description"))
					    : ""));
		json_array_append_new(json_object_get(cur, "versions"), json_string(a[i].version));
		json_decref(m);
	}
	db_apps_free(a, n);
	http_json(resp, 200, json_pack("{s:o}", "apps", apps));
}

void catalog_show(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	const char *name = req->url + strlen("/v1/apps/");
	struct db_app *a;
	size_t n;
	json_t *versions;
	int rc;

	if (!*name || strchr(name, '/')) {
		http_error(resp, 404, "%s: no such path; GET /v1/apps/NAME", req->url);
		return;
	}
	rc = h->db->ops->apps_list(h->db, name, &a, &n);
	if (rc) {
		http_error(resp, 503, "cannot read the catalog: %s", mw_strerror(rc));
		return;
	}
	if (n == 0) {
		http_error(resp, 404, "%.64s: no such app in the catalog", name);
		return;
	}
	versions = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(versions,
				      json_pack("{s:s, s:I, s:o}", "version", a[i].version,
						"created", (json_int_t)a[i].created, "manifest",
						json_loads(a[i].manifest, 0, NULL)));
	db_apps_free(a, n);
	http_json(resp, 200, json_pack("{s:s, s:o}", "name", name, "versions", versions));
}
