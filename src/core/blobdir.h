/* blobdir.h -- a content-addressed directory of files, shared by the edge's
 * and the hub's blob stores.
 *
 * A blob named by its SHA-256 (64 lower-case hex digits) lives at
 * DIR/ab/cdef... (the first two digits fan the files out, as git does).
 * Writes go to a temp file in DIR/tmp, are fsynced, renamed into place, and
 * the directories are fsynced, so a crash at any point never leaves a
 * partial file under a blob's name; blobdir_open() deletes the temp files
 * such a crash leaves behind. What the stores keep about their blobs (an
 * index, counts) stays theirs. */
#ifndef MW_BLOBDIR_H
#define MW_BLOBDIR_H

#include "core/buf.h"
#include "core/mw.h"

#include <stdbool.h>
#include <stdint.h>

#define BLOBDIR_HEX_LEN 64

/* True for exactly 64 lower-case hex digits. */
bool blobdir_hash_valid(const char *hex);
/* Creates dir and dir/tmp when missing, deletes leftover temp files. */
int blobdir_open(const char *dir) MW_MUST_CHECK;
/* dir/ab/cdef... into out; MW_ERR_TOOBIG when it does not fit. */
int blobdir_path(const char *dir, const char *hex, char *out, size_t cap) MW_MUST_CHECK;
/* Appends the blob's bytes to out; MW_ERR_NOTFOUND when it is not stored,
 * MW_ERR_NOMEM past out's cap. */
int blobdir_read(const char *dir, const char *hex, struct buf *out) MW_MUST_CHECK;
/* Stores data under hex, atomically and durably. */
int blobdir_write(const char *dir, const char *hex, const void *data, size_t len) MW_MUST_CHECK;
/* Calls fn for each regular file in the fan-out directories: name is the
 * two-digit directory and the file name joined (a blob's hash, when it is
 * one), path the file's path. */
void blobdir_each(const char *dir,
		  void (*fn)(void *arg, const char *name, const char *path, uint64_t size),
		  void *arg);

#endif
