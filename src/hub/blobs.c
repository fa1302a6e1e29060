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

#include "core/hash.h"
#include "core/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIR_CAP 600
#define PATH_CAP (DIR_CAP + 400) /* dir, fan-out, a file name */
#define HEX_LEN 64

struct hub_blobs {
	pthread_mutex_t lock;
	char dir[DIR_CAP];
	uint64_t count, bytes; /* under lock */
};

bool hub_blobs_hash_valid(const char *hex)
{
	size_t i;

	if (!hex)
		return false;
	for (i = 0; i < HEX_LEN; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return false;
	return hex[i] == '\0';
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0750) == 0 || errno == EEXIST)
		return MW_OK;
	log_error("msg=\"cannot create blob directory\" path=%s error=\"%s\"", path,
		  strerror(errno));
	return MW_ERR_IO;
}

static void clean_tmp(struct hub_blobs *b)
{
	char path[PATH_CAP], f[2 * PATH_CAP];
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "%s/tmp", b->dir);
	if (!(d = opendir(path)))
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
			unlink(f);
		}
	closedir(d);
}

static void count_sub(struct hub_blobs *b, const char *sub)
{
	char path[PATH_CAP], f[2 * PATH_CAP];
	struct stat st;
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "%s/%s", b->dir, sub);
	if (!(d = opendir(path)))
		return;
	while ((de = readdir(d))) {
		snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
		if (strlen(de->d_name) == HEX_LEN - 2 && stat(f, &st) == 0 && S_ISREG(st.st_mode)) {
			b->count++;
			b->bytes += (uint64_t)st.st_size;
		}
	}
	closedir(d);
}

int hub_blobs_open(const char *data_dir, struct hub_blobs **out)
{
	struct hub_blobs *b = calloc(1, sizeof(*b));
	char tmp[PATH_CAP];
	DIR *d;
	struct dirent *de;

	if (!b)
		return MW_ERR_NOMEM;
	pthread_mutex_init(&b->lock, NULL);
	if ((size_t)snprintf(b->dir, sizeof(b->dir), "%s/blobs", data_dir) >= sizeof(b->dir)) {
		hub_blobs_close(b);
		return MW_ERR_INVALID;
	}
	snprintf(tmp, sizeof(tmp), "%s/tmp", b->dir);
	if (make_dir(b->dir) || make_dir(tmp)) {
		hub_blobs_close(b);
		return MW_ERR_IO;
	}
	clean_tmp(b);
	if ((d = opendir(b->dir))) {
		while ((de = readdir(d)))
			if (strlen(de->d_name) == 2 && strspn(de->d_name, "0123456789abcdef") == 2)
				count_sub(b, de->d_name);
		closedir(d);
	}
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

static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = MW_OK;

	if (fd < 0 || fsync(fd))
		rc = MW_ERR_IO;
	if (fd >= 0)
		close(fd);
	return rc;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return MW_ERR_IO;
		p += n;
		len -= (size_t)n;
	}
	return MW_OK;
}

static int write_blob(struct hub_blobs *b, const char *hex, const void *data, size_t len)
{
	char tmp[PATH_CAP], sub[PATH_CAP], fin[2 * PATH_CAP];
	int fd, rc;

	snprintf(tmp, sizeof(tmp), "%s/tmp/%.16s.XXXXXX", b->dir, hex);
	snprintf(sub, sizeof(sub), "%s/%.2s", b->dir, hex);
	snprintf(fin, sizeof(fin), "%s/%s", sub, hex + 2);
	if ((fd = mkstemp(tmp)) < 0) {
		log_error("msg=\"cannot create a blob file\" dir=%s/tmp error=\"%s\"", b->dir,
			  strerror(errno));
		return MW_ERR_IO;
	}
	rc = write_all(fd, data, len);
	if (rc == MW_OK && fsync(fd))
		rc = MW_ERR_IO;
	if (close(fd) && rc == MW_OK)
		rc = MW_ERR_IO;
	if (rc == MW_OK && (rc = make_dir(sub)) == MW_OK &&
	    (rename(tmp, fin) || fsync_dir(sub) || fsync_dir(b->dir)))
		rc = MW_ERR_IO;
	if (rc) {
		log_error("msg=\"cannot write blob\" blob=%s error=\"%s\"", hex, strerror(errno));
		unlink(tmp);
	}
	return rc;
}

int hub_blobs_put(struct hub_blobs *b, const char *hex, const void *data, size_t len, bool *created)
{
	uint8_t want[HASH_LEN], got[HASH_LEN];
	char fin[PATH_CAP];
	struct stat st;
	int rc = MW_OK;

	*created = false;
	if (!hub_blobs_hash_valid(hex) || mw_unhex(hex, want, HASH_LEN))
		return MW_ERR_INVALID;
	hash_sha256(data, len, got);
	if (!hash_equal(want, got, HASH_LEN))
		return MW_ERR_INVALID;
	snprintf(fin, sizeof(fin), "%s/%.2s/%s", b->dir, hex, hex + 2);
	pthread_mutex_lock(&b->lock);
	if (stat(fin, &st) != 0 || (size_t)st.st_size != len) {
		if ((rc = write_blob(b, hex, data, len)) == MW_OK) {
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
	char path[PATH_CAP], chunk[65536];
	FILE *f;
	size_t n;
	int rc = MW_OK;

	if (!hub_blobs_hash_valid(hex))
		return MW_ERR_NOTFOUND;
	snprintf(path, sizeof(path), "%s/%.2s/%s", b->dir, hex, hex + 2);
	if (!(f = fopen(path, "rb")))
		return errno == ENOENT ? MW_ERR_NOTFOUND : MW_ERR_IO;
	while (rc == MW_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = buf_add(out, chunk, n);
	if (rc == MW_OK && ferror(f))
		rc = MW_ERR_IO;
	fclose(f);
	return rc;
}

/* ---- routes ---- */

void hub_blobs_handle_put(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	const char *hex = req->url + strlen(HUB_BLOBS_PREFIX);
	const char *node = hub_node_for_token(h, http_bearer(req));
	bool created = false;
	int rc;

	if (!node) {
		atomic_fetch_add(&h->m.blobs_rejected, 1);
		http_error(resp, 401,
			   "missing or unknown node token; send Authorization: Bearer "
			   "<the node's token in nodes>");
		return;
	}
	if (!hub_blobs_hash_valid(hex)) {
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

	if (!hub_blobs_hash_valid(hex)) {
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
