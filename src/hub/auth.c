/* auth.c -- roles, tokens, password hashes and the login limiter of auth.h.
 *
 * Argon2id parameters: 2 passes over 19 MiB, one lane (the OWASP baseline
 * for Argon2id): about 30 ms a login on one core here, and 19 MiB while
 * it runs. The limiter bounds how often anyone gets to pay that. */
#include "hub/auth.h"

#include "core/hash.h"

#include <argon2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARGON_T 2
#define ARGON_M_KIB 19456
#define ARGON_P 1
#define SALT_LEN 16
#define HASH_LEN_OUT 32
#define LIMITER_SLOTS 1024
#define KEY_MAX 160

static const struct {
	enum role role;
	const char *name;
} roles[] = {
	{ROLE_VIEWER, "viewer"}, {ROLE_DATA, "data-scientist"}, {ROLE_OPERATOR, "operator"},
	{ROLE_ADMIN, "admin"},	 {ROLE_NODE, "node"},
};

const char *role_name(enum role r)
{
	for (size_t i = 0; i < MW_ARRAY_LEN(roles); i++)
		if (roles[i].role == r)
			return roles[i].name;
	return "?";
}

enum role role_parse(const char *name)
{
	for (size_t i = 0; name && i < MW_ARRAY_LEN(roles); i++)
		if (roles[i].role != ROLE_NODE && strcmp(roles[i].name, name) == 0)
			return roles[i].role;
	return 0;
}

bool auth_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n < 1 || n > AUTH_NAME_MAX || name[0] == '.' || name[0] == '-' || name[0] == '_')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* ---- passwords ---------------------------------------------------------- */

int auth_password_hash(const char *password, char out[AUTH_HASH_MAX])
{
	uint8_t salt[SALT_LEN];
	size_t n = password ? strlen(password) : 0;

	if (n < AUTH_PASSWORD_MIN || n > AUTH_PASSWORD_MAX)
		return MW_ERR_INVALID;
	if (mw_random(salt, sizeof(salt)))
		return MW_ERR_IO;
	if (argon2id_hash_encoded(ARGON_T, ARGON_M_KIB, ARGON_P, password, n, salt, sizeof(salt),
				  HASH_LEN_OUT, out, AUTH_HASH_MAX) != ARGON2_OK)
		return MW_ERR_NOMEM;
	return MW_OK;
}

bool auth_password_ok(const char *encoded, const char *password)
{
	size_t n = password ? strlen(password) : 0;

	if (!encoded || !*encoded || n == 0 || n > AUTH_PASSWORD_MAX)
		return false;
	return argon2id_verify(encoded, password, n) == ARGON2_OK;
}

/* ---- tokens ------------------------------------------------------------- */

int auth_token_new(enum token_kind kind, char token[AUTH_TOKEN_LEN + 1], uint8_t digest[32])
{
	uint8_t raw[32];

	if (mw_random(raw, sizeof(raw)))
		return MW_ERR_IO;
	token[0] = 'm';
	token[1] = 'w';
	token[2] = (char)kind;
	token[3] = '_';
	mw_hex(raw, sizeof(raw), token + 4);
	token[AUTH_TOKEN_LEN] = '\0';
	auth_token_digest(token, digest);
	return MW_OK;
}

void auth_token_digest(const char *token, uint8_t digest[32])
{
	hash_sha256(token, strlen(token), digest);
}

/* ---- the login limiter -------------------------------------------------- */

struct slot {
	char key[KEY_MAX];		 /* "u:NAME" or "a:ADDRESS"; empty = free */
	int64_t fails[AUTH_LIMIT_FAILS]; /* a ring of the last failures */
	int next;
};

struct auth_limiter {
	pthread_mutex_t lock;
	struct slot slots[LIMITER_SLOTS];
};

int auth_limiter_new(struct auth_limiter **out)
{
	struct auth_limiter *l = calloc(1, sizeof(*l));

	*out = l;
	if (!l)
		return MW_ERR_NOMEM;
	pthread_mutex_init(&l->lock, NULL);
	return MW_OK;
}

void auth_limiter_free(struct auth_limiter *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static int64_t newest(const struct slot *s)
{
	return s->fails[(s->next + AUTH_LIMIT_FAILS - 1) % AUTH_LIMIT_FAILS];
}

/* The key's slot; with create, a free one or the one idle longest. */
static struct slot *find(struct auth_limiter *l, const char *key, bool create)
{
	struct slot *idle = &l->slots[0];

	for (size_t i = 0; i < LIMITER_SLOTS; i++) {
		struct slot *s = &l->slots[i];
		if (strcmp(s->key, key) == 0)
			return s;
		if (!s->key[0] || (idle->key[0] && newest(s) < newest(idle)))
			idle = s;
	}
	if (!create)
		return NULL;
	memset(idle, 0, sizeof(*idle));
	snprintf(idle->key, sizeof(idle->key), "%s", key);
	return idle;
}

static int64_t slot_wait_ns(const struct slot *s, int64_t now)
{
	int64_t oldest, window = (int64_t)AUTH_LIMIT_WINDOW_S * 1000000000;

	if (!s)
		return 0;
	oldest = s->fails[s->next]; /* the ring is full once it is non-zero */
	if (oldest == 0 || now - oldest >= window)
		return 0;
	return oldest + window - now;
}

static void key_of(char *out, char prefix, const char *v)
{
	snprintf(out, KEY_MAX, "%c:%.*s", prefix, KEY_MAX - 3, v ? v : "");
}

int auth_limiter_wait(struct auth_limiter *l, const char *user, const char *addr, int64_t now_ns)
{
	char ku[KEY_MAX], ka[KEY_MAX];
	int64_t w;

	key_of(ku, 'u', user);
	key_of(ka, 'a', addr);
	pthread_mutex_lock(&l->lock);
	w = slot_wait_ns(find(l, ku, false), now_ns);
	if (addr) {
		int64_t wa = slot_wait_ns(find(l, ka, false), now_ns);
		w = wa > w ? wa : w;
	}
	pthread_mutex_unlock(&l->lock);
	return w > 0 ? (int)((w + 999999999) / 1000000000) : 0;
}

static void record(struct auth_limiter *l, const char *key, int64_t now_ns)
{
	struct slot *s = find(l, key, true);

	s->fails[s->next] = now_ns ? now_ns : 1;
	s->next = (s->next + 1) % AUTH_LIMIT_FAILS;
}

void auth_limiter_fail(struct auth_limiter *l, const char *user, const char *addr, int64_t now_ns)
{
	char k[KEY_MAX];

	pthread_mutex_lock(&l->lock);
	key_of(k, 'u', user);
	record(l, k, now_ns);
	if (addr) {
		key_of(k, 'a', addr);
		record(l, k, now_ns);
	}
	pthread_mutex_unlock(&l->lock);
}

void auth_limiter_success(struct auth_limiter *l, const char *user)
{
	char k[KEY_MAX];
	struct slot *s;

	key_of(k, 'u', user);
	pthread_mutex_lock(&l->lock);
	s = find(l, k, false);
	if (s)
		memset(s, 0, sizeof(*s));
	pthread_mutex_unlock(&l->lock);
}
