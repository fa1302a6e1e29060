/* hash.c -- SHA-256 through Nettle; see hash.h for why Nettle. */
#include "core/hash.h"

#include <nettle/memops.h>
#include <nettle/sha2.h>

void hash_sha256(const void *data, size_t len, uint8_t out[HASH_LEN])
{
	hash_sha256_2(data, len, NULL, 0, out);
}

void hash_sha256_2(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[HASH_LEN])
{
	struct sha256_ctx ctx;

	sha256_init(&ctx);
	if (alen)
		sha256_update(&ctx, alen, a);
	if (blen)
		sha256_update(&ctx, blen, b);
	sha256_digest(&ctx, HASH_LEN, out);
}

bool hash_equal(const void *a, const void *b, size_t len)
{
	return memeql_sec(a, b, len) != 0;
}
