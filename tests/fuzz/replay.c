/* replay.c -- runs a libFuzzer harness over its seed corpus, without libFuzzer.
 *
 * `make check` links each tests/fuzz/fuzz_*.c with this driver (gcc is
 * enough) and passes the corpus directory: every file is read whole and
 * handed to LLVMFuzzerTestOneInput() once, under ASan and UBSan. So every
 * crash the fuzzer ever found, once added to the corpus, is a regression
 * test. Arguments are files or directories; a directory is read one level
 * deep (its files, and the files of its subdirectories). A missing or empty
 * directory is an error: a corpus that silently vanished tests nothing. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define INPUT_MAX (16u << 20) /* no seed is anywhere near this */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int read_file(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	long n;
	int rc = -1;

	if (!f) {
		fprintf(stderr, "replay: %s: cannot open: %s\n", path, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fprintf(stderr, "replay: %s: cannot read: %s\n", path, strerror(errno));
		goto out;
	}
	if ((unsigned long)n > INPUT_MAX) {
		fprintf(stderr, "replay: %s: larger than %u bytes\n", path, INPUT_MAX);
		goto out;
	}
	/* malloc(0) may return NULL; one spare byte keeps it simple. The harness
	 * sees exactly n bytes, as under libFuzzer. */
	if (!(data = malloc((size_t)n + 1)) || fread(data, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "replay: %s: cannot read\n", path);
		free(data);
		data = NULL;
		goto out;
	}
	*out = data;
	*len = (size_t)n;
	rc = 0;
out:
	fclose(f);
	return rc;
}

static int replay_file(const char *path, unsigned *count)
{
	uint8_t *data;
	size_t len;

	if (read_file(path, &data, &len))
		return -1;
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	(*count)++;
	return 0;
}

/* Replays the regular files of dir (and of its subdirectories when depth
 * allows) in name order, so runs are repeatable. */
static int replay_dir(const char *dir, int depth, unsigned *count)
{
	struct dirent **ents = NULL;
	char path[4096];
	int n, rc = 0;

	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: %s: cannot list: %s\n", dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n && rc == 0; i++) {
		const char *name = ents[i]->d_name;
		struct stat st;

		if (name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
		    stat(path, &st)) {
			fprintf(stderr, "replay: %s/%s: cannot stat\n", dir, name);
			rc = -1;
		} else if (S_ISDIR(st.st_mode)) {
			if (depth > 0)
				rc = replay_dir(path, depth - 1, count);
		} else if (S_ISREG(st.st_mode)) {
			rc = replay_file(path, count);
		}
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned total = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		unsigned count = 0;
		int rc;

		if (stat(argv[i], &st)) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		rc = S_ISDIR(st.st_mode) ? replay_dir(argv[i], 1, &count)
					 : replay_file(argv[i], &count);
		if (rc)
			return 1;
		if (count == 0) {
			fprintf(stderr, "replay: %s: no inputs (an empty corpus tests nothing)\n",
				argv[i]);
			return 1;
		}
		total += count;
	}
	printf("replayed %u inputs\n", total);
	return 0;
}
