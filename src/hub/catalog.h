/* catalog.h -- the apps the hub can deploy (hub/manifest.h says what one is).
 *
 *   POST /v1/apps (admin): a manifest, YAML or JSON -> 201 {name, version};
 *        400 naming the field; 409 when that name and version exist
 *        (a version, once in the catalog, never changes).
 *   GET  /v1/apps: each app with its versions, newest last.
 *   GET  /v1/apps/NAME: every version's manifest. */
#ifndef MW_HUB_CATALOG_H
#define MW_HUB_CATALOG_H

#include "hub/http.h"

void catalog_add(struct hub *h, struct http_req *req, struct http_resp *resp);
void catalog_list(struct hub *h, struct http_req *req, struct http_resp *resp);
void catalog_show(struct hub *h, struct http_req *req, struct http_resp *resp);

#endif
