/* http.c -- libmicrohttpd glue, routing and body limits for mw-hub.
 *
 * Threading: MHD's internal epoll loop with a pool of HTTP_THREADS
 * threads. Ingest is serialised by the store's write lock anyway, so more
 * threads would not raise the ingest rate; a few let queries, /metrics and
 * /healthz answer while a batch commits. (Thread-per-connection measured
 * no faster for ingest and costs a thread per idle edge connection.)
 *
 * Each request gets a struct http_req on MHD's first call. 404, 405 and a
 * Content-Length over max_body are answered then, before any body is read.
 * Body chunks are appended to a buffer capped at max_body; a chunked body
 * that grows past it is read and dropped, and answered 413 at the end (MHD
 * cannot answer in the middle of an upload). Every 4xx/5xx body is JSON
 * {"error": "..."}.
 *
 * Routes match a path exactly, or by prefix when `prefix` is set (the blob
 * routes, /v1/blobs/HASH; the handler reads the rest of the path). A blob
 * upload's body is capped by blobs.max_size instead of max_body: snapshots
 * and event batches have limits of their own. */
#include "hub/http.h"

#include "core/log.h"
#include "hub/blobs.h"
#include "hub/catalog.h"
#include "hub/deploy.h"
#include "hub/enroll.h"
#include "hub/fleet.h"
#include "hub/ingest.h"
#include "hub/metrics.h"
#include "hub/query.h"
#include "hub/tls.h"
#include "hub/users.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HTTP_THREADS 4
#define HTTP_TIMEOUT_S 60
#define HTTP_TOO_LARGE 413
#define RESP_CAP ((size_t)256 << 20)

struct http_route {
	const char *method, *path;
	http_handler fn;
	unsigned roles;	  /* enum role bits admitted; 0: anyone, no credential needed */
	bool self_auth;	  /* the handler checks the credential itself (roles documents it) */
	bool ingest;	  /* refusals count in mw_hub_batches_rejected_total */
	bool prefix;	  /* path is a prefix; the handler parses the rest */
	bool blob;	  /* body capped by blobs.max_size, not max_body */
	const char *what; /* for the role table */
};

#define R(m, p, fn, roles, self, ingest, prefix, blob, what)      \
	{                                                         \
		m, p, fn, roles, self, ingest, prefix, blob, what \
	}

/* Which role may call what: docs/security.md is printed from this table
 * (mw-hub --help-roles), and test_roles.py calls every row under every
 * role. Edges send events and snapshots with their node credential; the
 * ingest handlers check it themselves, as their refusals are counted. */
static const struct http_route routes[] = {
	R("POST", "/v1/ingest", ingest_handle, ROLE_NODE, true, true, false, false,
	  "an edge sends a batch of events"),
	R("PUT", HUB_BLOBS_PREFIX, hub_blobs_handle_put, ROLE_NODE, true, false, true, true,
	  "an edge uploads a snapshot"),
	R("GET", "/v1/events", query_events, ROLE_USERS, false, false, false, false,
	  "query events"),
	R("GET", "/v1/nodes", fleet_nodes, ROLE_USERS, false, false, false, false,
	  "list nodes with their chain and health"),
	R("POST", "/v1/heartbeat", fleet_heartbeat, ROLE_NODE, false, false, false, false,
	  "an edge reports its health"),
	R("GET", HUB_BLOBS_PREFIX, hub_blobs_handle_get, ROLE_USERS, false, false, true, false,
	  "download a snapshot"),
	R("POST", "/v1/bootstrap", users_bootstrap, 0, false, false, false, false,
	  "create the first admin with the one-time bootstrap token"),
	R("POST", "/v1/login", users_login, 0, false, false, false, false,
	  "log in with user name and password"),
	R("POST", "/v1/logout", users_logout, ROLE_USERS, false, false, false, false,
	  "revoke the token of the request"),
	R("GET", "/v1/whoami", users_whoami, ROLE_ALL, false, false, false, false,
	  "who the credential belongs to"),
	R("GET", "/v1/users", users_list, ROLE_ADMIN, false, false, false, false, "list users"),
	R("POST", "/v1/users", users_create, ROLE_ADMIN, false, false, false, false,
	  "create a user"),
	R("PATCH", "/v1/users/", users_change, ROLE_ADMIN, false, false, true, false,
	  "change a user's role, password or disabled flag"),
	R("DELETE", "/v1/users/", users_delete, ROLE_ADMIN, false, false, true, false,
	  "delete a user"),
	R("GET", "/v1/tokens", users_tokens_list, ROLE_USERS, false, false, false, false,
	  "list API tokens (an admin sees everyone's)"),
	R("POST", "/v1/tokens", users_tokens_create, ROLE_USERS, false, false, false, false,
	  "create an API token for scripts"),
	R("DELETE", "/v1/tokens/", users_tokens_revoke, ROLE_USERS, false, false, true, false,
	  "revoke an API token (an admin may revoke anyone's)"),
	R("GET", "/v1/audit", users_audit_list, ROLE_ADMIN, false, false, false, false,
	  "read the audit log"),
	R("POST", "/v1/enrollments", enroll_create, ROLE_ADMIN, false, false, false, false,
	  "create a one-time enrollment token for an edge"),
	R("GET", "/v1/enrollments", enroll_list, ROLE_ADMIN, false, false, false, false,
	  "list the enrollment tokens not used yet"),
	R("POST", "/v1/enroll", enroll_node, 0, false, false, false, false,
	  "an edge exchanges an enrollment token for its own credential"),
	R("POST", "/v1/nodes/", enroll_revoke_node, ROLE_ADMIN, false, false, true, false,
	  "revoke a node's credential (/v1/nodes/NODE/revoke)"),
	R("POST", "/v1/apps", catalog_add, ROLE_ADMIN, false, false, false, false,
	  "add an app version to the catalog (a manifest, YAML or JSON)"),
	R("GET", "/v1/apps", catalog_list, ROLE_USERS, false, false, false, false,
	  "list the catalog's apps and versions"),
	R("GET", "/v1/apps/", catalog_show, ROLE_USERS, false, false, true, false,
	  "every version's manifest of an app"),
	R("POST", "/v1/deployments", deploy_create, ROLE_ADMIN | ROLE_OPERATOR, false, false, false,
	  false, "deploy an app version to nodes (or remove it), rolled out in batches"),
	R("GET", "/v1/deployments", deploy_list, ROLE_USERS, false, false, false, false,
	  "list deployments and their progress"),
	R("GET", "/v1/deployments/", deploy_show, ROLE_USERS, false, false, true, false,
	  "one deployment with each node's state and last log lines"),
	R("PATCH", "/v1/nodes/", deploy_label, ROLE_ADMIN, false, false, true, false,
	  "set or remove a node's labels"),
	R("GET", "/healthz", query_health, 0, false, false, false, false, "liveness"),
	R("GET", "/metrics", metrics_handle, 0, false, false, false, false, "Prometheus metrics"),
};

void http_print_roles(FILE *f)
{
	static const enum role cols[] = {ROLE_ADMIN, ROLE_OPERATOR, ROLE_DATA, ROLE_VIEWER,
					 ROLE_NODE};

	fprintf(f, "| endpoint | what | admin | operator | data-scientist | viewer | node | "
		   "no credential |\n"
		   "| --- | --- | --- | --- | --- | --- | --- | --- |\n");
	for (size_t i = 0; i < MW_ARRAY_LEN(routes); i++) {
		const struct http_route *r = &routes[i];
		fprintf(f, "| `%s %s%s` | %s |", r->method, r->path, r->prefix ? "…" : "", r->what);
		for (size_t c = 0; c < MW_ARRAY_LEN(cols); c++)
			fprintf(f, " %s |", !r->roles || (r->roles & cols[c]) ? "yes" : "—");
		fprintf(f, " %s |\n", r->roles ? "—" : "yes");
	}
}

struct http_server {
	struct hub *hub;
	struct MHD_Daemon *d;
	uint16_t port;
};

const char *http_header(const struct http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_arg(const struct http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_bearer(const struct http_req *req)
{
	const char *v = http_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!v || strncasecmp(v, "Bearer ", 7) != 0)
		return NULL;
	v += 7;
	while (*v == ' ')
		v++;
	return *v ? v : NULL;
}

void http_json(struct http_resp *resp, unsigned status, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	resp->status = status;
	resp->content_type = "application/json";
	buf_reset(&resp->body);
	if (!text || buf_adds(&resp->body, text) || buf_addc(&resp->body, '\n')) {
		resp->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		buf_reset(&resp->body);
		if (buf_adds(&resp->body, "{\"error\":\"out of memory\"}\n"))
			resp->body.len = 0; /* an empty 500 is all that is left */
	}
	free(text);
	json_decref(j);
}

json_t *http_body_object(const struct http_req *req, struct http_resp *resp)
{
	json_error_t jerr;
	json_t *j = json_loadb(req->body.data ? (const char *)req->body.data : "", req->body.len,
			       JSON_REJECT_DUPLICATES, &jerr);

	if (!j || !json_is_object(j)) {
		http_error(resp, 400, "body: expected a JSON object%s%s", j ? "" : ": ",
			   j ? "" : jerr.text);
		json_decref(j);
		return NULL;
	}
	return j;
}

void http_error(struct http_resp *resp, unsigned status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	http_json(resp, status, json_pack("{s:s}", "error", msg));
}

static enum MHD_Result send_resp(struct MHD_Connection *c, struct http_resp *resp,
				 const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t len;
	char *body = buf_take(&resp->body, &len);

	if (!body)
		return MHD_NO;
	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				resp->content_type ? resp->content_type : "application/json");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(c, resp->status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *allow,
				  const char *msg)
{
	struct http_resp resp = {0};
	enum MHD_Result ret;

	buf_init(&resp.body, RESP_CAP);
	http_error(&resp, status, "%s", msg);
	ret = send_resp(c, &resp, allow);
	buf_free(&resp.body);
	return ret;
}

/* Finds the route of path; *path_known tells a 405 from a 404. */
static const struct http_route *find_route(const char *method, const char *path, const char **allow)
{
	*allow = NULL;
	for (size_t i = 0; i < MW_ARRAY_LEN(routes); i++) {
		if (routes[i].prefix ? strncmp(routes[i].path, path, strlen(routes[i].path)) != 0
				     : strcmp(routes[i].path, path) != 0)
			continue;
		if (strcmp(routes[i].method, method) == 0 ||
		    (strcmp(method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0))
			return &routes[i];
		*allow = routes[i].method;
	}
	return NULL;
}

static bool length_over(struct MHD_Connection *c, int64_t max)
{
	const char *cl =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	int64_t n;
	return cl && mw_parse_i64(cl, 0, INT64_MAX, &n) == MW_OK && n > max;
}

static void count_reject(struct http_server *srv, const struct http_req *req, enum hub_reject why)
{
	if (req->route && req->route->ingest)
		atomic_fetch_add(&srv->hub->m.rejected[why], 1);
}

static void remote_of(struct MHD_Connection *c, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	mw_strlcpy(out, "?", cap);
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
			  (socklen_t)cap);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
			  (socklen_t)cap);
}

/* First call for a request: route it and refuse early what we can. */
static enum MHD_Result on_headers(struct http_server *srv, struct MHD_Connection *c,
				  const char *url, const char *method, void **con_cls)
{
	struct http_req *req = calloc(1, sizeof(*req));
	const char *allow;
	char msg[256];
	int64_t cap;

	if (!req)
		return MHD_NO;
	*con_cls = req;
	req->conn = c;
	req->url = url;
	req->method = method;
	remote_of(c, req->remote, sizeof(req->remote));
	req->route = find_route(method, url, &allow);
	cap = req->route && req->route->blob ? srv->hub->cfg->blobs_max_size
					     : srv->hub->cfg->max_body;
	buf_init(&req->body, (size_t)cap);
	if (!req->route && allow) {
		snprintf(msg, sizeof(msg), "%s %.100s: method not allowed; use %s", method, url,
			 allow);
		return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, allow, msg);
	}
	if (!req->route) {
		snprintf(msg, sizeof(msg), "%.100s: no such path", url);
		return send_error(c, MHD_HTTP_NOT_FOUND, NULL, msg);
	}
	if (length_over(c, cap)) {
		count_reject(srv, req, REJ_TOO_LARGE);
		snprintf(msg, sizeof(msg), "body: larger than %s (%" PRId64 " bytes)",
			 req->route->blob ? "blobs.max_size" : "max_body", cap);
		return send_error(c, HTTP_TOO_LARGE, NULL, msg);
	}
	return MHD_YES;
}

/* Who sent req, and may they call its route? If not, a 401 (no or an
 * unknown credential) or 403 (a role the route does not admit) in resp. */
static bool allowed(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	const struct http_route *r = req->route;

	if (r->self_auth)
		return true;
	users_authenticate(h, http_bearer(req), &req->who);
	if (!r->roles)
		return true;
	if (req->who.kind == PRINCIPAL_NONE) {
		http_error(resp, MHD_HTTP_UNAUTHORIZED,
			   "missing, unknown, expired or revoked credential (Authorization: Bearer "
			   "TOKEN)");
		return false;
	}
	if (!(r->roles & req->who.role)) {
		http_error(resp, MHD_HTTP_FORBIDDEN, "%s %s: not allowed for the role %s",
			   req->method, r->path, role_name(req->who.role));
		return false;
	}
	return true;
}

static enum MHD_Result dispatch(struct http_server *srv, struct http_req *req)
{
	struct http_resp resp = {0};
	enum MHD_Result ret;

	buf_init(&resp.body, RESP_CAP);
	if (req->too_big) {
		count_reject(srv, req, REJ_TOO_LARGE);
		http_error(&resp, HTTP_TOO_LARGE, "body: larger than %s (%zu bytes)",
			   req->route->blob ? "blobs.max_size" : "max_body", req->body.cap);
	} else if (!allowed(srv->hub, req, &resp)) {
		/* 401 or 403 in resp */
	} else {
		req->route->fn(srv->hub, req, &resp);
	}
	if (resp.status == 0)
		http_error(&resp, MHD_HTTP_INTERNAL_SERVER_ERROR, "handler gave no answer");
	ret = send_resp(req->conn, &resp, NULL);
	buf_free(&resp.body);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct http_req *req = *con_cls;

	if (!req)
		return on_headers(srv, c, url, method, con_cls);
	if (*upload_size) {
		if (!req->too_big && buf_add(&req->body, upload_data, *upload_size))
			req->too_big = true;
		*upload_size = 0;
		return MHD_YES;
	}
	return dispatch(srv, req);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_req *req = *con_cls;
	if (!req)
		return;
	buf_free(&req->body);
	free(req);
	*con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '"'))
		msg[--n] = '\0';
	log_warn("msg=\"http: %s\"", msg);
}

static int resolve(const char *host, uint16_t port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (strcmp(host, "*") == 0)
		host = "0.0.0.0";
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
		log_error("msg=\"listen: the host must be an IPv4 address or localhost\" host=%s",
			  host);
		return MW_ERR_INVALID;
	}
	return MW_OK;
}

int http_start(struct hub *h, const char *host, uint16_t port, const struct hub_tls *tls,
	       struct http_server **out)
{
	struct http_server *srv = calloc(1, sizeof(*srv));
	const union MHD_DaemonInfo *info;
	struct sockaddr_in sa;
	int rc;

	if (!srv)
		return MW_ERR_NOMEM;
	srv->hub = h;
	if ((rc = resolve(host, port, &sa)))
		goto fail;
	if (tls->on)
		srv->d = MHD_start_daemon(
			MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
				MHD_USE_TLS,
			port, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
			srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
			MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_THREADS,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
			MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_HTTPS_MEM_KEY,
			tls->key_pem, MHD_OPTION_HTTPS_MEM_CERT, tls->cert_pem, MHD_OPTION_END);
	else
		srv->d = MHD_start_daemon(
			MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, port,
			NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
			MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE,
			(unsigned)HTTP_THREADS, MHD_OPTION_CONNECTION_TIMEOUT,
			(unsigned)HTTP_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
			MHD_OPTION_END);
	if (!srv->d) {
		log_error("msg=\"cannot listen\" host=%s port=%u hint=\"is the port in use?\"",
			  host, (unsigned)port);
		rc = MW_ERR_IO;
		goto fail;
	}
	info = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = info ? info->port : port;
	*out = srv;
	return MW_OK;
fail:
	free(srv);
	return rc;
}

uint16_t http_port(const struct http_server *s) { return s->port; }

void http_stop(struct http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	free(s);
}
