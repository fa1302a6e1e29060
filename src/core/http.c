/* http.c -- libcurl wrapper; see http.h.
 *
 * Only what our callers need: a method, headers, a body, a timeout and a
 * capped answer. The write callback refuses bytes past the cap, which makes
 * curl abort the transfer with CURLE_WRITE_ERROR; we report that as "answer
 * larger than N bytes" rather than curl's generic text. */
#include "core/http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_MAX_RESPONSE (4u << 20)

struct http_client {
	CURL *curl;
};

struct sink {
	struct buf *body;
	int overflow;
};

int http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? MW_OK : MW_ERR_IO;
}

void http_global_cleanup(void) { curl_global_cleanup(); }

int http_client_new(struct http_client **out)
{
	struct http_client *c = calloc(1, sizeof(*c));
	if (!c)
		return MW_ERR_NOMEM;
	c->curl = curl_easy_init();
	if (!c->curl) {
		free(c);
		return MW_ERR_NOMEM;
	}
	*out = c;
	return MW_OK;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
}

void http_response_free(struct http_response *resp) { buf_free(&resp->body); }

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;
	if (buf_add(s->body, ptr, n) != MW_OK) {
		s->overflow = 1;
		return 0; /* makes curl stop with CURLE_WRITE_ERROR */
	}
	return n;
}

static int build_headers(const struct http_request *req, struct curl_slist **out)
{
	struct curl_slist *list = NULL, *tmp;
	char auth[1024];

	/* An empty "Expect:" stops curl from waiting for 100-continue on big posts. */
	if (!(list = curl_slist_append(list, "Expect:")))
		return MW_ERR_NOMEM;
	for (size_t i = 0; req->headers && req->headers[i]; i++) {
		if (!(tmp = curl_slist_append(list, req->headers[i])))
			goto fail;
		list = tmp;
	}
	if (req->bearer && *req->bearer) {
		if ((size_t)snprintf(auth, sizeof(auth), "Authorization: Bearer %s", req->bearer) >=
		    sizeof(auth))
			goto fail;
		if (!(tmp = curl_slist_append(list, auth)))
			goto fail;
		list = tmp;
	}
	*out = list;
	return MW_OK;
fail:
	curl_slist_free_all(list);
	return MW_ERR_NOMEM;
}

static void set_options(CURL *h, const struct http_request *req, struct curl_slist *hdrs,
			struct sink *sink)
{
	const char *method = req->method ? req->method : req->body ? "POST" : "GET";

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
			 req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (req->unix_socket && *req->unix_socket)
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket);
	if (strcmp(method, "POST") == 0 || req->body) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
}

int http_do(struct http_client *c, const struct http_request *req, struct http_response *resp)
{
	struct curl_slist *hdrs = NULL;
	struct sink sink = {&resp->body, 0};
	size_t cap = req->max_response ? req->max_response : DEFAULT_MAX_RESPONSE;
	CURLcode cc;
	int rc;

	memset(resp, 0, sizeof(*resp));
	buf_init(&resp->body, cap);
	if ((rc = build_headers(req, &hdrs))) {
		snprintf(resp->error, sizeof(resp->error), "%s: cannot build headers", req->url);
		return rc;
	}
	set_options(c->curl, req, hdrs, &sink);
	cc = curl_easy_perform(c->curl);
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_slist_free_all(hdrs);
	if (sink.overflow) {
		snprintf(resp->error, sizeof(resp->error), "%s: answer larger than %zu bytes",
			 req->url, cap);
		return MW_ERR_TOOBIG;
	}
	if (cc != CURLE_OK) {
		snprintf(resp->error, sizeof(resp->error), "%s: %s", req->url,
			 curl_easy_strerror(cc));
		resp->status = 0;
		return MW_ERR_IO;
	}
	if (resp->body.data == NULL && (rc = buf_add(&resp->body, "", 0)))
		return rc; /* callers may treat the body as a string */
	return MW_OK;
}

int http_request(const struct http_request *req, struct http_response *resp)
{
	struct http_client *c;
	int rc = http_client_new(&c);
	if (rc) {
		memset(resp, 0, sizeof(*resp));
		buf_init(&resp->body, 0);
		snprintf(resp->error, sizeof(resp->error), "%s: cannot start curl", req->url);
		return rc;
	}
	rc = http_do(c, req, resp);
	http_client_free(c);
	return rc;
}
