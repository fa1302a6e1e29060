/* account.c -- `mw login`, logout, whoami, users, tokens and audit.
 *
 * A login is kept in a credentials file (JSON: hub, user, token, expires),
 * written with mode 0600 through a temporary file and rename
 * (mw_write_private), so a half-written file never replaces a good one
 * and no other user can read the token. Passwords never go on the command line (where `ps` shows
 * them): they are read from the terminal with echo off, or as one line of
 * standard input for scripts. */
#include "cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define PASSWORD_MAX 1024

/* ---- the credentials file ------------------------------------------------ */

static int credentials_path(char *out, size_t cap)
{
	const char *p = getenv("MW_CREDENTIALS"), *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	int n;

	if (p && *p)
		n = snprintf(out, cap, "%s", p);
	else if (xdg && *xdg)
		n = snprintf(out, cap, "%s/mw/credentials", xdg);
	else if (home && *home)
		n = snprintf(out, cap, "%s/.config/mw/credentials", home);
	else
		return MW_ERR_NOTFOUND;
	return n > 0 && (size_t)n < cap ? MW_OK : MW_ERR_TOOBIG;
}

static json_t *credentials_load(void)
{
	char path[1024];

	if (credentials_path(path, sizeof(path)))
		return NULL;
	return json_load_file(path, 0, NULL);
}

/* mkdir -p of path's directory, mode 0700. */
static int make_parent(const char *path)
{
	char dir[1024];

	snprintf(dir, sizeof(dir), "%s", path);
	for (char *s = dir + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(dir, 0700) && errno != EEXIST)
			return MW_ERR_IO;
		*s = '/';
	}
	return MW_OK;
}

static int credentials_save(json_t *c, char *path, size_t cap)
{
	char *text;
	int rc;

	if (credentials_path(path, cap) || make_parent(path))
		return MW_ERR_IO;
	text = json_dumps(c, JSON_INDENT(2));
	rc = text ? mw_write_private(path, text, strlen(text)) : MW_ERR_NOMEM;
	free(text);
	return rc;
}

void cli_resolve_hub(struct opts *o, char *buf, size_t cap)
{
	json_t *saved = credentials_load();
	const char *shub = json_string_value(json_object_get(saved, "hub"));
	const char *stok = json_string_value(json_object_get(saved, "token"));
	const char *sca = json_string_value(json_object_get(saved, "ca"));

	if (!o->hub || !*o->hub)
		o->hub = getenv("MW_HUB");
	if (!o->token || !*o->token)
		o->token = getenv("MW_TOKEN");
	if (!o->ca || !*o->ca)
		o->ca = getenv("MW_CA");
	if ((!o->hub || !*o->hub) && shub)
		o->hub = shub;
	if (!o->hub || !*o->hub)
		o->hub = DEFAULT_HUB;
	if (!strstr(o->hub, "://")) /* "127.0.0.1:7800", as hub.addr holds it */
		snprintf(buf, cap, "http://%s", o->hub);
	else
		snprintf(buf, cap, "%s", o->hub);
	o->hub = buf;
	if ((!o->token || !*o->token) && stok && shub && strcmp(shub, o->hub) == 0) {
		snprintf(o->saved_token, sizeof(o->saved_token), "%s", stok);
		o->token = o->saved_token;
	}
	if ((!o->ca || !*o->ca) && sca && *sca && shub && strcmp(shub, o->hub) == 0) {
		snprintf(o->saved_ca, sizeof(o->saved_ca), "%s", sca);
		o->ca = o->saved_ca;
	}
	if (o->token && !*o->token)
		o->token = NULL;
	json_decref(saved);
}

/* ---- passwords ---------------------------------------------------------- */

/* One line from the terminal with echo off, or from standard input. */
static int read_password(const struct opts *o, const char *prompt, char *out, size_t cap)
{
	bool tty = !o->password_stdin && isatty(STDIN_FILENO);
	struct termios old, quiet;
	size_t n;

	if (tty) {
		fprintf(stderr, "%s", prompt);
		fflush(stderr);
		tcgetattr(STDIN_FILENO, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
	}
	if (!fgets(out, (int)cap, stdin))
		out[0] = '\0';
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSANOW, &old);
		fprintf(stderr, "\n");
	}
	n = strlen(out);
	while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	if (!n) {
		fprintf(stderr, "mw: no password given%s\n",
			tty ? "" : " (give it as one line on standard input)");
		return 1;
	}
	return 0;
}

/* ---- login, logout, whoami ----------------------------------------------- */

static int save_login(const struct opts *o, json_t *answer)
{
	char path[1024];
	char ca[4096] = "";
	json_t *c;

	if (o->ca && *o->ca && !realpath(o->ca, ca))
		snprintf(ca, sizeof(ca), "%s", o->ca);
	c = json_pack("{s:s, s:O, s:O, s:O, s:s}", "hub", o->hub, "user",
		      json_object_get(answer, "user"), "token", json_object_get(answer, "token"),
		      "expires", json_object_get(answer, "expires"), "ca", ca);
	char when[32];
	int rc = c ? credentials_save(c, path, sizeof(path)) : MW_ERR_NOMEM;

	json_decref(c);
	if (rc) {
		fprintf(stderr,
			"mw: logged in, but cannot write the credentials file (%s); set "
			"MW_CREDENTIALS to a writable path\n",
			strerror(errno));
		return 1;
	}
	cli_time(json_integer_value(json_object_get(answer, "expires")), when, sizeof(when));
	printf("logged in to %s as %s (%s) until %s\n", o->hub,
	       json_string_value(json_object_get(answer, "user")),
	       json_string_value(json_object_get(answer, "role")), when);
	return 0;
}

int cli_login(struct opts *o)
{
	char pw[PASSWORD_MAX + 2], name[128];
	json_t *answer;
	int rc;

	if (!o->user) {
		if (o->password_stdin || !isatty(STDIN_FILENO)) {
			fprintf(stderr, "mw: login: --user NAME is needed\n");
			return 2;
		}
		fprintf(stderr, "user: ");
		if (!fgets(name, sizeof(name), stdin))
			return 1;
		name[strcspn(name, "\r\n")] = '\0';
		o->user = name;
	}
	if (read_password(o, o->bootstrap ? "new admin's password: " : "password: ", pw,
			  sizeof(pw)))
		return 1;
	if (o->bootstrap)
		rc = cli_call(o, "POST", "/v1/bootstrap",
			      json_pack("{s:s, s:s, s:s}", "token", o->bootstrap, "user", o->user,
					"password", pw),
			      &answer);
	else
		rc = cli_call(o, "POST", "/v1/login",
			      json_pack("{s:s, s:s}", "user", o->user, "password", pw), &answer);
	memset(pw, 0, sizeof(pw));
	if (rc == 0 && answer)
		rc = save_login(o, answer);
	json_decref(answer);
	return rc;
}

/* Forgets the saved token, keeps the hub: the next `mw login` goes there. */
static void forget_token(const struct opts *o)
{
	char path[1024];
	json_t *c = json_pack("{s:s, s:s}", "hub", o->hub, "ca", o->ca ? o->ca : "");

	if (!c || credentials_save(c, path, sizeof(path)))
		fprintf(stderr, "mw: cannot rewrite the credentials file; delete it\n");
	json_decref(c);
}

int cli_logout(struct opts *o)
{
	json_t *answer;
	int rc = cli_call(o, "POST", "/v1/logout", NULL, &answer);

	json_decref(answer);
	if (o->token == o->saved_token)
		forget_token(o);
	if (rc == 0 && !o->json)
		printf("logged out of %s\n", o->hub);
	return rc;
}

int cli_whoami(struct opts *o)
{
	json_t *j;

	if (cli_call(o, "GET", "/v1/whoami", NULL, &j))
		return 1;
	if (j)
		printf("%s (%s, %s) at %s\n", json_string_value(json_object_get(j, "name")),
		       json_string_value(json_object_get(j, "role")),
		       json_string_value(json_object_get(j, "kind")), o->hub);
	json_decref(j);
	return 0;
}

/* ---- users -------------------------------------------------------------- */

static int users_list(struct opts *o)
{
	json_t *j, *u;
	size_t i;

	if (cli_call(o, "GET", "/v1/users", NULL, &j))
		return 1;
	if (!j)
		return 0;
	printf("%-24s %-15s %-9s %s\n", "USER", "ROLE", "STATE", "CREATED (UTC)");
	json_array_foreach(json_object_get(j, "users"), i, u)
	{
		char when[32];
		cli_time(json_integer_value(json_object_get(u, "created")), when, sizeof(when));
		printf("%-24s %-15s %-9s %s\n", json_string_value(json_object_get(u, "name")),
		       json_string_value(json_object_get(u, "role")),
		       json_is_true(json_object_get(u, "disabled")) ? "disabled" : "enabled", when);
	}
	json_decref(j);
	return 0;
}

/* PATCH (or, with create, POST) a user from the flags. */
static int users_write(struct opts *o, const char *name, bool create)
{
	char pw[PASSWORD_MAX + 2], path[256];
	json_t *body = json_object(), *j;
	int rc;

	if (create && !o->role) {
		fprintf(stderr,
			"mw: users add %s: --role admin|operator|data-scientist|viewer is "
			"needed\n",
			name);
		json_decref(body);
		return 2;
	}
	if (o->role)
		json_object_set_new(body, "role", json_string(o->role));
	if (o->disable || o->enable)
		json_object_set_new(body, "disabled", json_boolean(o->disable));
	if (create || o->password) {
		if (read_password(o, "the user's password: ", pw, sizeof(pw))) {
			json_decref(body);
			return 1;
		}
		json_object_set_new(body, "password", json_string(pw));
		memset(pw, 0, sizeof(pw));
	}
	if (create)
		json_object_set_new(body, "name", json_string(name));
	snprintf(path, sizeof(path), "/v1/users/%s", name);
	rc = cli_call(o, create ? "POST" : "PATCH", create ? "/v1/users" : path, body, &j);
	if (rc == 0 && j)
		printf("%s %s: %s%s\n", create ? "created" : "changed", name,
		       json_string_value(json_object_get(j, "role")),
		       json_is_true(json_object_get(j, "disabled")) ? ", disabled" : "");
	json_decref(j);
	return rc;
}

int cli_users(struct opts *o)
{
	const char *sub = o->nwords > 1 ? o->words[1] : "list";
	const char *name = o->nwords > 2 ? o->words[2] : NULL;
	char path[256];
	json_t *j;
	int rc;

	if (strcmp(sub, "list") == 0 && !name)
		return users_list(o);
	if (!name || (strcmp(sub, "add") && strcmp(sub, "set") && strcmp(sub, "rm"))) {
		fprintf(stderr, "mw: users: list | add NAME --role R | set NAME [...] | rm NAME\n");
		return 2;
	}
	if (strcmp(sub, "rm") != 0)
		return users_write(o, name, strcmp(sub, "add") == 0);
	snprintf(path, sizeof(path), "/v1/users/%s", name);
	rc = cli_call(o, "DELETE", path, NULL, &j);
	if (rc == 0 && j)
		printf("deleted %s (and revoked their tokens)\n", name);
	json_decref(j);
	return rc;
}

/* ---- tokens ------------------------------------------------------------- */

static int tokens_list(struct opts *o)
{
	json_t *j, *t;
	size_t i;

	if (cli_call(o, "GET", "/v1/tokens", NULL, &j))
		return 1;
	if (!j)
		return 0;
	printf("%6s  %-20s %-16s %-8s %-15s %-20s %s\n", "ID", "NAME", "OWNER", "KIND", "ROLE",
	       "EXPIRES (UTC)", "STATE");
	json_array_foreach(json_object_get(j, "tokens"), i, t)
	{
		char exp[32];
		cli_time(json_integer_value(json_object_get(t, "expires")), exp, sizeof(exp));
		printf("%6" JSON_INTEGER_FORMAT "  %-20s %-16s %-8s %-15s %-20s %s\n",
		       json_integer_value(json_object_get(t, "id")),
		       json_string_value(json_object_get(t, "name")),
		       json_string_value(json_object_get(t, "owner")),
		       json_string_value(json_object_get(t, "kind")),
		       json_string_value(json_object_get(t, "role")), exp,
		       json_integer_value(json_object_get(t, "revoked")) ? "revoked" : "valid");
	}
	json_decref(j);
	return 0;
}

int cli_tokens(struct opts *o)
{
	const char *sub = o->nwords > 1 ? o->words[1] : "list";
	const char *arg = o->nwords > 2 ? o->words[2] : NULL;
	json_t *body, *j;
	char path[128];
	int rc;

	if (strcmp(sub, "list") == 0 && !arg)
		return tokens_list(o);
	if (!arg || (strcmp(sub, "create") && strcmp(sub, "revoke"))) {
		fprintf(stderr, "mw: tokens: list | create NAME [--role R] [--ttl 90d] | revoke "
				"ID\n");
		return 2;
	}
	if (strcmp(sub, "revoke") == 0) {
		snprintf(path, sizeof(path), "/v1/tokens/%s", arg);
		rc = cli_call(o, "DELETE", path, NULL, &j);
		if (rc == 0 && j)
			printf("revoked token %s\n", arg);
		json_decref(j);
		return rc;
	}
	body = json_pack("{s:s}", "name", arg);
	if (o->role)
		json_object_set_new(body, "role", json_string(o->role));
	if (o->ttl)
		json_object_set_new(body, "ttl", json_string(o->ttl));
	rc = cli_call(o, "POST", "/v1/tokens", body, &j);
	if (rc == 0 && j) {
		char exp[32];
		cli_time(json_integer_value(json_object_get(j, "expires")), exp, sizeof(exp));
		printf("%s\n", json_string_value(json_object_get(j, "token")));
		fprintf(stderr,
			"token %s (id %" JSON_INTEGER_FORMAT ", role %s, until %s): shown "
			"this once, keep it safe\n",
			arg, json_integer_value(json_object_get(j, "id")),
			json_string_value(json_object_get(j, "role")), exp);
	}
	json_decref(j);
	return rc;
}

/* ---- audit -------------------------------------------------------------- */

int cli_audit(struct opts *o)
{
	char path[128];
	json_t *j, *a;
	size_t i;

	snprintf(path, sizeof(path), "/v1/audit?after=%s&limit=%s", o->after ? o->after : "0",
		 o->limit ? o->limit : "100");
	if (cli_call(o, "GET", path, NULL, &j))
		return 1;
	if (!j)
		return 0;
	printf("%6s  %-20s  %-22s %-14s %-20s %-15s %-7s %s\n", "ID", "TIME (UTC)", "ACTOR",
	       "ACTION", "TARGET", "FROM", "RESULT", "DETAIL");
	json_array_foreach(json_object_get(j, "lines"), i, a)
	{
		char when[32];
		cli_time(json_integer_value(json_object_get(a, "ts")), when, sizeof(when));
		printf("%6" JSON_INTEGER_FORMAT "  %-20s  %-22s %-14s %-20s %-15s %-7s %s\n",
		       json_integer_value(json_object_get(a, "id")), when,
		       json_string_value(json_object_get(a, "actor")),
		       json_string_value(json_object_get(a, "action")),
		       json_string_value(json_object_get(a, "target")),
		       json_string_value(json_object_get(a, "remote")),
		       json_string_value(json_object_get(a, "result")),
		       json_string_value(json_object_get(a, "detail")));
	}
	if (json_array_size(json_object_get(j, "lines")) > 0)
		printf("-- next page: add --after %" JSON_INTEGER_FORMAT "\n",
		       json_integer_value(json_object_get(j, "next")));
	json_decref(j);
	return 0;
}
