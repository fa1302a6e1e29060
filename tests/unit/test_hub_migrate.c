/* test_hub_migrate.c -- a hub store made by an older mw-hub opens and works.
 *
 * The tokens table first had no labels column; a store from then is
 * upgraded when it is opened (db_sqlite__auth_migrate), and its tokens keep
 * working: an old token is found, a new one with labels is stored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hub/db.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_old_tokens_table_gets_labels(void **state)
{
	char dir[] = "/tmp/mw-test-migrate-XXXXXX", path[128], cmd[160];
	uint8_t old_digest[32], new_digest[32];
	struct db_token t = {0}, found;
	struct db *db;
	sqlite3 *h;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/hub.db", dir);
	memset(old_digest, 0xab, sizeof(old_digest));
	memset(new_digest, 0xcd, sizeof(new_digest));
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(
		sqlite3_exec(
			h,
			"CREATE TABLE tokens(id INTEGER PRIMARY KEY, digest BLOB NOT NULL UNIQUE,"
			" kind INTEGER NOT NULL, owner TEXT NOT NULL, name TEXT NOT NULL,"
			" role INTEGER NOT NULL, created INTEGER NOT NULL, expires INTEGER NOT "
			"NULL, revoked INTEGER NOT NULL);"
			"INSERT INTO tokens VALUES(1, x'abababababababababababababababababababab"
			"abababababababababababab', 97, 'alice', 'script', 1, 1, 0, 0);",
			NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(h);

	assert_int_equal(db_sqlite_ops.open(dir, &db), MW_OK);
	assert_int_equal(db->ops->token_find(db, old_digest, &found), MW_OK);
	assert_string_equal(found.owner, "alice");
	assert_string_equal(found.labels, "{}");
	memcpy(t.digest, new_digest, sizeof(t.digest));
	t.kind = 'n';
	snprintf(t.owner, sizeof(t.owner), "edge-1");
	snprintf(t.labels, sizeof(t.labels), "{\"line\":\"3\"}");
	assert_int_equal(db->ops->begin(db), MW_OK);
	assert_int_equal(db->ops->token_put(db, &t), MW_OK);
	assert_int_equal(db->ops->commit(db), MW_OK);
	assert_int_equal(db->ops->token_find(db, new_digest, &found), MW_OK);
	assert_string_equal(found.labels, "{\"line\":\"3\"}");
	db->ops->close(db);
	/* opening again leaves the upgraded store as it is */
	assert_int_equal(db_sqlite_ops.open(dir, &db), MW_OK);
	assert_int_equal(db->ops->token_find(db, new_digest, &found), MW_OK);
	db->ops->close(db);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_old_tokens_table_gets_labels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
