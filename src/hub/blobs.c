/* blobs.c -- the hub's blob store; see blobs.h.
 *
 * No index: the hub only ever looks a blob up by its hash, which is its
 * path, so the file system is the index. Counts for /metrics are taken by
 * one directory walk at open and kept up to date by puts. Puts take a
 * mutex: two edges uploading the same snapshot at once would otherwise
 * both count it as new (the files themselves could not clash: each write
 * has its own temp file and the rename is atomic).
 *
 * A write goes to DATA_DIR/blobs/tmp/, is fsynced, renamed to its final
 * name and the directory fsynced, so a crash never leaves a partial blob
 * under a final name; temp files left by a crash are deleted at open. */
#include "hub/blobs.h"

#include "core/blobdir.h"
#include "core/hash.h"
#include "core/log.h"
#include "hub/enroll.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIR_CAP 600
#define PATH_CAP (DIR_CAP + 400) /* dir, fan-out, a file name */

struct hub_blobs {
	pthread_mutex_t lock;
	char dir[DIR_CAP];
	uint64_t count, bytes; /* under lock */
};

static void count_one(void *arg, const char *name, const char *path, uint64_t size)
{
	struct hub_blobs *b = arg;

	if (blobdir_hash_valid(name)) {
		b->count++;
		b->bytes += size;
	}
}

int hub_blobs_open(const char *data_dir, struct hub_blobs **out)
{
	struct hub_blobs *b = calloc(1, sizeof(*b));

	if (!b)
		return MW_ERR_NOMEM;
	pthread_mutex_init(&b->lock, NULL);
	if ((size_t)snprintf(b->dir, sizeof(b->dir), "%s/blobs", data_dir) >= sizeof(b->dir)) {
		hub_blobs_close(b);
		return MW_ERR_INVALID;
	}
	if (blobdir_open(b->dir)) {
		hub_blobs_close(b);
		return MW_ERR_IO;
	}
	blobdir_each(b->dir, count_one, b);
	*out = b;
	return MW_OK;
}

void hub_blobs_close(struct hub_blobs *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->lock);
	free(b);
}

void hub_blobs_counts(struct hub_blobs *b, uint64_t *count, uint64_t *bytes)
{
	pthread_mutex_lock(&b->lock);
	*count = b->count;
	*bytes = b->bytes;
	pthread_mutex_unlock(&b->lock);
}

int hub_blobs_put(struct hub_blobs *b, const char *hex, const void *data, size_t len, bool *created)
{
	uint8_t want[HASH_LEN], got[HASH_LEN];
	char fin[PATH_CAP];
	struct stat st;
	int rc = MW_OK;

	*created = false;
	if (!blobdir_hash_valid(hex) || mw_unhex(hex, want, HASH_LEN))
		return MW_ERR_INVALID;
	hash_sha256(data, len, got);
	if (!hash_equal(want, got, HASH_LEN))
		return MW_ERR_INVALID;
	if (blobdir_path(b->dir, hex, fin, sizeof(fin)))
		return MW_ERR_INVALID;
	pthread_mutex_lock(&b->lock);
	if (stat(fin, &st) != 0 || (size_t)st.st_size != len) {
		if ((rc = blobdir_write(b->dir, hex, data, len)) == MW_OK) {
			*created = true;
			b->count++;
			b->bytes += len;
		}
	}
	pthread_mutex_unlock(&b->lock);
	return rc;
}

int hub_blobs_read(struct hub_blobs *b, const char *hex, struct buf *out)
{
	return blobdir_read(b->dir, hex, out);
}

/* ---- routes ---- */

void hub_blobs_handle_put(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	const char *hex = req->url + strlen(HUB_BLOBS_PREFIX);
	char node_buf[AUTH_NAME_MAX + 1];
	const char *node = enroll_node_for_token(h, http_bearer(req), node_buf, sizeof(node_buf));
	bool created = false;
	int rc;

	if (!node) {
		atomic_fetch_add(&h->m.blobs_rejected, 1);
		http_error(resp, 401,
			   "missing, unknown or revoked node credential; send Authorization: "
			   "Bearer <the node's token>");
		return;
	}
	if (!blobdir_hash_valid(hex)) {
		atomic_fetch_add(&h->m.blobs_rejected, 1);
		http_error(resp, 400, "%.80s: not a blob hash (64 lower-case hex digits)", hex);
		return;
	}
	rc = hub_blobs_put(h->blobs, hex, req->body.data ? req->body.data : "", req->body.len,
			   &created);
	if (rc == MW_ERR_INVALID) {
		atomic_fetch_add(&h->m.blobs_rejected, 1);
		log_warn("msg=\"blob refused: body does not match its hash\" node=%s blob=%s "
			 "size=%zu",
			 node, hex, req->body.len);
		http_error(resp, 400, "body: its SHA-256 is not %s; nothing stored", hex);
		return;
	}
	if (rc) {
		http_error(resp, 503, "blobs: cannot store now (%s); retry later", mw_strerror(rc));
		return;
	}
	if (created) {
		atomic_fetch_add(&h->m.blobs_stored, 1);
		atomic_fetch_add(&h->m.blob_bytes, req->body.len);
	} else {
		atomic_fetch_add(&h->m.blobs_duplicate, 1);
	}
	http_json(resp, created ? 201 : 200,
		  json_pack("{s:s,s:I,s:b}", "hash", hex, "size", (json_int_t)req->body.len,
			    "created", created));
}

void hub_blobs_handle_get(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	const char *hex = req->url + strlen(HUB_BLOBS_PREFIX);
	int rc;

	if (!blobdir_hash_valid(hex)) {
		http_error(resp, 404, "%.80s: no such blob (a name is 64 lower-case hex digits)",
			   hex);
		return;
	}
	buf_reset(&resp->body);
	rc = hub_blobs_read(h->blobs, hex, &resp->body);
	if (rc == MW_ERR_NOTFOUND) {
		http_error(resp, 404, "%s: no such blob on this hub", hex);
		return;
	}
	if (rc) {
		http_error(resp, 500, "blobs: cannot read %s (%s)", hex, mw_strerror(rc));
		return;
	}
	resp->status = 200;
	resp->content_type = resp->body.len >= 3 && (uint8_t)resp->body.data[0] == 0xff &&
					     (uint8_t)resp->body.data[1] == 0xd8 &&
					     (uint8_t)resp->body.data[2] == 0xff
				     ? "image/jpeg"
				     : "application/octet-stream";
}
