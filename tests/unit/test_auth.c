/* test_auth.c -- the hub's credentials: password hashes, tokens, roles and
 * the failed-login limiter (hub/auth.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hub/auth.h"

#include <string.h>

#define S 1000000000LL

static void test_password_hash_verifies_only_the_password(void **state)
{
	char h1[AUTH_HASH_MAX], h2[AUTH_HASH_MAX];

	assert_int_equal(auth_password_hash("correct horse battery", h1), MW_OK);
	assert_int_equal(auth_password_hash("correct horse battery", h2), MW_OK);
	assert_non_null(strstr(h1, "$argon2id$"));
	assert_null(strstr(h1, "correct horse")); /* not stored in clear */
	assert_string_not_equal(h1, h2);	  /* salted */
	assert_true(auth_password_ok(h1, "correct horse battery"));
	assert_true(auth_password_ok(h2, "correct horse battery"));
	assert_false(auth_password_ok(h1, "correct horse batterY"));
	assert_false(auth_password_ok(h1, ""));
	assert_false(auth_password_ok("", "correct horse battery"));
	assert_false(auth_password_ok("$argon2id$garbage", "correct horse battery"));
}

static void test_password_length_is_checked(void **state)
{
	char h[AUTH_HASH_MAX], long_pw[AUTH_PASSWORD_MAX + 2];

	assert_int_equal(auth_password_hash("short", h), MW_ERR_INVALID);
	assert_int_equal(auth_password_hash(NULL, h), MW_ERR_INVALID);
	memset(long_pw, 'x', sizeof(long_pw) - 1);
	long_pw[sizeof(long_pw) - 1] = '\0';
	assert_int_equal(auth_password_hash(long_pw, h), MW_ERR_INVALID);
	long_pw[AUTH_PASSWORD_MAX] = '\0';
	assert_int_equal(auth_password_hash(long_pw, h), MW_OK);
}

static void test_tokens_are_random_and_typed(void **state)
{
	char a[AUTH_TOKEN_LEN + 1], b[AUTH_TOKEN_LEN + 1];
	uint8_t da[32], db[32], again[32];

	assert_int_equal(auth_token_new(TOKEN_SESSION, a, da), MW_OK);
	assert_int_equal(auth_token_new(TOKEN_SESSION, b, db), MW_OK);
	assert_int_equal(strlen(a), AUTH_TOKEN_LEN);
	assert_memory_equal(a, "mws_", 4);
	assert_string_not_equal(a, b);
	assert_memory_not_equal(da, db, 32);
	auth_token_digest(a, again);
	assert_memory_equal(da, again, 32);
	assert_int_equal(auth_token_new(TOKEN_API, a, da), MW_OK);
	assert_memory_equal(a, "mwa_", 4);
}

static void test_roles_and_names(void **state)
{
	assert_int_equal(role_parse("admin"), ROLE_ADMIN);
	assert_int_equal(role_parse("data-scientist"), ROLE_DATA);
	assert_int_equal(role_parse("operator"), ROLE_OPERATOR);
	assert_int_equal(role_parse("viewer"), ROLE_VIEWER);
	assert_int_equal(role_parse("node"), 0); /* not a role a user can have */
	assert_int_equal(role_parse("root"), 0);
	assert_string_equal(role_name(ROLE_DATA), "data-scientist");
	assert_true(auth_name_ok("alice"));
	assert_true(auth_name_ok("line-3.cam_2"));
	assert_false(auth_name_ok(""));
	assert_false(auth_name_ok("-rf"));
	assert_false(auth_name_ok("a b"));
	assert_false(auth_name_ok("x/../y"));
}

static void test_limiter_blocks_after_failures_then_forgets(void **state)
{
	struct auth_limiter *l;
	int64_t t = 1000 * S;

	assert_int_equal(auth_limiter_new(&l), MW_OK);
	for (int i = 0; i < AUTH_LIMIT_FAILS; i++) {
		assert_int_equal(auth_limiter_wait(l, "alice", "10.0.0.1", t + i * S), 0);
		auth_limiter_fail(l, "alice", "10.0.0.1", t + i * S);
	}
	/* the sixth try within the window waits for the first failure to age */
	assert_int_equal(auth_limiter_wait(l, "alice", "10.0.0.9", t + 10 * S),
			 AUTH_LIMIT_WINDOW_S - 10);
	/* the address is limited too, whoever it claims to be */
	assert_true(auth_limiter_wait(l, "bob", "10.0.0.1", t + 10 * S) > 0);
	assert_int_equal(auth_limiter_wait(l, "bob", "10.0.0.2", t + 10 * S), 0);
	/* after the window, the oldest failure no longer counts */
	assert_int_equal(auth_limiter_wait(l, "alice", "10.0.0.9", t + AUTH_LIMIT_WINDOW_S * S), 0);
	/* a success forgets the user's failures (not the address's) */
	auth_limiter_fail(l, "carol", NULL, t);
	auth_limiter_success(l, "carol");
	for (int i = 0; i < AUTH_LIMIT_FAILS - 1; i++)
		auth_limiter_fail(l, "carol", NULL, t + i * S);
	assert_int_equal(auth_limiter_wait(l, "carol", NULL, t + 5 * S), 0);
	auth_limiter_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_password_hash_verifies_only_the_password),
		cmocka_unit_test(test_password_length_is_checked),
		cmocka_unit_test(test_tokens_are_random_and_typed),
		cmocka_unit_test(test_roles_and_names),
		cmocka_unit_test(test_limiter_blocks_after_failures_then_forgets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
