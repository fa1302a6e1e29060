/* cli.h -- what the files of `mw` share: the options, the one way to call
 * the hub, and the saved login.
 *
 * mw.c: arguments, events, nodes, health. account.c: login, logout,
 * whoami, users, tokens, audit, and the credentials file. fleet.c:
 * enrollment tokens, node revocation and the catalog. deploy.c:
 * deployments, rollouts and node labels. */
#ifndef MW_CLI_H
#define MW_CLI_H

#include "core/mw.h"

#include <jansson.h>
#include <stdbool.h>

#define DEFAULT_HUB "http://127.0.0.1:7800"
#define CLI_CREDENTIALS_HELP "$MW_CREDENTIALS, else ~/.config/mw/credentials (mode 0600)"

struct opts {
	const char *hub, *token, *ca, *cmd;
	const char *words[8]; /* the command and the words after it */
	int nwords;
	const char *node, *source, *kind, *severity, *since, *until, *after, *limit;
	const char *user, *role, *ttl, *bootstrap;
	const char *to, *batch, *settle; /* mw deploy */
	const char *sets[32];		 /* --set NAME=VALUE, repeatable */
	int nsets;
	const char *labels[16]; /* --label KEY=VALUE, repeatable */
	int nlabels;
	int json, password_stdin, password, disable, enable, remove, wait, follow;
	char saved_token[128]; /* from the credentials file */
	char saved_ca[1024];
};

/* Fills o->hub, o->token and o->ca: flags, then MW_HUB/MW_TOKEN/MW_CA,
 * then the saved login (its token and CA only for its own hub), then
 * DEFAULT_HUB. */
void cli_resolve_hub(struct opts *o, char *buf, size_t cap);

/* method path (body, which it takes, or NULL) at the hub. 0 with the
 * answer's JSON in *out (NULL with --json, which printed it as it came);
 * 1 after printing what went wrong and what to do. */
int cli_call(const struct opts *o, const char *method, const char *path, json_t *body,
	     json_t **out);

/* The same with a body as it is (a file's bytes), of content_type. */
int cli_call_raw(const struct opts *o, const char *method, const char *path, const char *body,
		 size_t len, const char *content_type, json_t **out);

/* KEY=VALUE words (--label, --set, `mw nodes label`) as an object of
 * strings; with removals, KEY- too, as null. NULL after saying which word
 * is wrong (what names the flag or command). */
json_t *cli_pairs(const char *const *items, int n, const char *what, bool removals);

/* ns since the epoch as 2026-11-30T17:59:53Z, or "-" for 0. */
void cli_time(int64_t ns, char *out, size_t cap);

int cli_login(struct opts *o);
int cli_logout(struct opts *o);
int cli_whoami(struct opts *o);
int cli_users(struct opts *o);
int cli_tokens(struct opts *o);
int cli_audit(struct opts *o);
int cli_enroll(struct opts *o);
int cli_apps(struct opts *o);
/* `mw nodes show NODE` and `mw nodes revoke NODE`; plain `mw nodes`
 * lists (mw.c). */
int cli_nodes_revoke(struct opts *o);
/* deploy.c: `mw deploy`, `mw rollouts`, `mw nodes label NODE K=V K-`. */
int cli_deploy(struct opts *o);
int cli_rollouts(struct opts *o);
int cli_nodes_label(struct opts *o);

#endif
