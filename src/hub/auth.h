/* auth.h -- who is calling the hub, and what they may do.
 *
 * Principals are users (a role each: admin, operator, data-scientist,
 * viewer), edge nodes (their ingest credential), or the static api.token
 * of the configuration (an admin for scripts and tests). A request proves
 * who it is with "Authorization: Bearer TOKEN"; a token is random (32
 * bytes from the kernel, hex, with a prefix saying what it is), stored
 * only as its SHA-256 (a token has 256 bits of entropy, so a slow hash
 * would protect nothing more), expires, and can be revoked. Passwords are
 * the exception: people choose them, so they are stored as Argon2id
 * (libargon2), slow on purpose.
 *
 * What each role may call is the routing table's (http.c), printed by
 * `mw-hub --help-roles` and in docs/security.md. Failed logins are rate
 * limited per user name and per client address. */
#ifndef MW_HUB_AUTH_H
#define MW_HUB_AUTH_H

#include "core/mw.h"

#include <stdbool.h>
#include <stdint.h>

/* Roles as bits, so a route lists the roles it admits as a mask. */
enum role {
	ROLE_VIEWER = 1,
	ROLE_DATA = 2, /* data-scientist */
	ROLE_OPERATOR = 4,
	ROLE_ADMIN = 8,
	ROLE_NODE = 16, /* an edge: ingest and uploads only */
};
#define ROLE_USERS (ROLE_VIEWER | ROLE_DATA | ROLE_OPERATOR | ROLE_ADMIN)
#define ROLE_ALL (ROLE_USERS | ROLE_NODE)

#define AUTH_NAME_MAX 64
#define AUTH_TOKEN_LEN 68 /* "mws_" or "mwa_" + 64 hex digits */
#define AUTH_PASSWORD_MIN 10
#define AUTH_PASSWORD_MAX 1024
#define AUTH_HASH_MAX 128 /* an encoded Argon2id hash */

/* The role's name ("data-scientist"), or "?". */
const char *role_name(enum role r);
/* A user role from its name; 0 when it names none (node is not a user role). */
enum role role_parse(const char *name);

enum principal_kind { PRINCIPAL_NONE, PRINCIPAL_USER, PRINCIPAL_NODE, PRINCIPAL_STATIC };

/* Who made a request. token_id is the row of the token used (0: a static
 * or configured credential). */
struct principal {
	enum principal_kind kind;
	enum role role;
	char name[AUTH_NAME_MAX + 1]; /* user name, node id, or "api.token" */
	int64_t token_id;
};

/* A user or token name: 1..64 of [A-Za-z0-9._-], starting with a letter
 * or digit. */
bool auth_name_ok(const char *name);

/* Argon2id of password into out (NUL-terminated, encoded with its salt and
 * parameters). MW_ERR_INVALID for a password shorter than
 * AUTH_PASSWORD_MIN or longer than AUTH_PASSWORD_MAX. */
int auth_password_hash(const char *password, char out[AUTH_HASH_MAX]) MW_MUST_CHECK;
bool auth_password_ok(const char *encoded, const char *password);

enum token_kind {
	TOKEN_SESSION = 's',
	TOKEN_API = 'a',
	TOKEN_ENROLL = 'e',
	TOKEN_NODE = 'n',
	TOKEN_BOOTSTRAP = 'b',
};

/* A new random token of the kind ("mws_" + 64 hex for a session) and its
 * SHA-256, the only thing stored. */
int auth_token_new(enum token_kind kind, char token[AUTH_TOKEN_LEN + 1],
		   uint8_t digest[32]) MW_MUST_CHECK;
void auth_token_digest(const char *token, uint8_t digest[32]);

/* Failed logins: at most LIMIT_FAILS within LIMIT_WINDOW per user name and
 * per client address. */
#define AUTH_LIMIT_FAILS 5
#define AUTH_LIMIT_WINDOW_S 300

struct auth_limiter;

int auth_limiter_new(struct auth_limiter **out) MW_MUST_CHECK;
void auth_limiter_free(struct auth_limiter *l);
/* 0 when user may try to log in from addr now, else the seconds to wait. */
int auth_limiter_wait(struct auth_limiter *l, const char *user, const char *addr, int64_t now_ns);
/* Records a failed attempt, or forgets the user's failures after a success. */
void auth_limiter_fail(struct auth_limiter *l, const char *user, const char *addr, int64_t now_ns);
void auth_limiter_success(struct auth_limiter *l, const char *user);

#endif
