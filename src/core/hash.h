/* hash.h -- SHA-256 and constant-time comparison for the event chain and
 * credentials.
 *
 * Backed by Nettle, the crypto library of the GnuTLS family that
 * libmicrohttpd already brings into our processes: one crypto
 * family, and no second library to load (OpenSSL's libcrypto alone cost an
 * idle edge about 3 MiB of resident memory). */
#ifndef MW_HASH_H
#define MW_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HASH_LEN 32

void hash_sha256(const void *data, size_t len, uint8_t out[HASH_LEN]);
/* SHA-256 over a followed by b, without copying them together. */
void hash_sha256_2(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[HASH_LEN]);
/* Compares in time independent of where the bytes differ. */
bool hash_equal(const void *a, const void *b, size_t len);

#endif
