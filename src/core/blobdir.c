/* blobdir.c -- content-addressed files written atomically; see blobdir.h. */
#include "core/blobdir.h"

#include "core/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_CAP 4096

bool blobdir_hash_valid(const char *hex)
{
	size_t i;

	if (!hex)
		return false;
	for (i = 0; i < BLOBDIR_HEX_LEN; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return false;
	return hex[i] == '\0';
}

/* MW_OK when path is a directory now; *made when this call created it. */
static int make_dir(const char *path, bool *made)
{
	if (mkdir(path, 0750) == 0) {
		*made = true;
		return MW_OK;
	}
	if (errno == EEXIST)
		return MW_OK;
	log_error("blobs: cannot create dir=%s err=\"%s\"", path, strerror(errno));
	return MW_ERR_IO;
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

int blobdir_open(const char *dir)
{
	char tmp[PATH_CAP], f[2 * PATH_CAP];
	bool made = false;
	struct dirent *de;
	DIR *d;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/tmp", dir) >= sizeof(tmp))
		return MW_ERR_TOOBIG;
	if (make_dir(dir, &made) || make_dir(tmp, &made))
		return MW_ERR_IO;
	if (!(d = opendir(tmp)))
		return MW_OK;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(f, sizeof(f), "%s/%s", tmp, de->d_name);
		if (unlink(f) == 0)
			log_info("blobs: deleted an unfinished write file=%s", f);
	}
	closedir(d);
	return MW_OK;
}

int blobdir_path(const char *dir, const char *hex, char *out, size_t cap)
{
	size_t n = (size_t)snprintf(out, cap, "%s/%.2s/%s", dir, hex, hex + 2);
	return n < cap ? MW_OK : MW_ERR_TOOBIG;
}

int blobdir_read(const char *dir, const char *hex, struct buf *out)
{
	char path[PATH_CAP], chunk[65536];
	size_t n;
	FILE *f;
	int rc = MW_OK;

	if (!blobdir_hash_valid(hex) || blobdir_path(dir, hex, path, sizeof(path)))
		return MW_ERR_NOTFOUND;
	if (!(f = fopen(path, "rb")))
		return errno == ENOENT ? MW_ERR_NOTFOUND : MW_ERR_IO;
	while (rc == MW_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = buf_add(out, chunk, n);
	if (rc == MW_OK && ferror(f))
		rc = MW_ERR_IO;
	fclose(f);
	return rc;
}

/* Temp file + fsync + rename + fsync of the fan-out directory (and of dir
 * when the fan-out directory is new, so its entry is durable too). */
int blobdir_write(const char *dir, const char *hex, const void *data, size_t len)
{
	char tmp[PATH_CAP], sub[PATH_CAP], fin[PATH_CAP];
	bool made = false;
	int fd, rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/tmp/%.16s.XXXXXX", dir, hex) >= sizeof(tmp) ||
	    blobdir_path(dir, hex, fin, sizeof(fin)))
		return MW_ERR_TOOBIG;
	snprintf(sub, sizeof(sub), "%s/%.2s", dir, hex);
	if ((fd = mkstemp(tmp)) < 0) {
		log_error("blobs: cannot create a temp file in %s/tmp err=\"%s\"", dir,
			  strerror(errno));
		return MW_ERR_IO;
	}
	rc = write_all(fd, data, len);
	if (rc == MW_OK && fsync(fd))
		rc = MW_ERR_IO;
	if (close(fd) && rc == MW_OK)
		rc = MW_ERR_IO;
	if (rc == MW_OK)
		rc = make_dir(sub, &made);
	if (rc == MW_OK && rename(tmp, fin))
		rc = MW_ERR_IO;
	if (rc == MW_OK && (fsync_dir(sub) || (made && fsync_dir(dir))))
		rc = MW_ERR_IO;
	if (rc) {
		log_error("blobs: cannot write blob=%s err=\"%s\"", hex, strerror(errno));
		unlink(tmp);
	}
	return rc;
}

static void each_in(const char *dir, const char *sub,
		    void (*fn)(void *, const char *, const char *, uint64_t), void *arg)
{
	char path[PATH_CAP], f[2 * PATH_CAP], name[300];
	struct dirent *de;
	struct stat st;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if (!(d = opendir(path)))
		return;
	while ((de = readdir(d))) {
		snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
		if (de->d_name[0] == '.' || stat(f, &st) || !S_ISREG(st.st_mode))
			continue;
		snprintf(name, sizeof(name), "%s%s", sub, de->d_name);
		fn(arg, name, f, (uint64_t)st.st_size);
	}
	closedir(d);
}

void blobdir_each(const char *dir,
		  void (*fn)(void *arg, const char *name, const char *path, uint64_t size),
		  void *arg)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (strlen(de->d_name) == 2 && strspn(de->d_name, "0123456789abcdef") == 2)
			each_in(dir, de->d_name, fn, arg);
	closedir(d);
}
