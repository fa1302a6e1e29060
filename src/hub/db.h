/* db.h -- the hub's storage interface, so backends can be swapped.
 *
 * The hub talks to its store only through struct db_ops: SQLite now
 * (db_sqlite.c, one process), PostgreSQL later (several hub processes).
 * What the interface promises:
 *
 * - Writes happen between begin() and commit()/rollback() on one writer;
 *   the caller serialises writers (one lock per hub process; a PostgreSQL
 *   backend would also lock the node's row in node_get()).
 * - insert_event() is idempotent on (node, seq): it reports whether the
 *   row is new, and never replaces a stored event.
 * - Readers (query, nodes_list, counters) are safe from any thread at any
 *   time and see only committed data.
 *
 * Everything a backend allocates for the caller is freed with the free
 * functions below. */
#ifndef MW_HUB_DB_H
#define MW_HUB_DB_H

#include "core/event.h"
#include "core/mw.h"

#include <stdbool.h>
#include <stdint.h>

/* Why an event was flagged by the chain check (a bit set; 0 = verified). */
enum db_flag {
	DB_FLAG_ALTERED = 1,
	DB_FLAG_LINKAGE = 2,
	DB_FLAG_LATE = 4, /* arrived after the hub had moved past its seq (a gap) */
};

/* Per-node chain state and totals. */
struct db_node {
	char node[EVENT_ID_MAX + 1];
	uint64_t acked_seq;		    /* highest contiguous seq, verified */
	uint8_t acked_hash[EVENT_HASH_LEN]; /* hash of seq acked_seq (or a range's last) */
	uint64_t events;		    /* events stored */
	uint64_t breaks;		    /* chain breaks recorded */
	int64_t last_seen;		    /* ns: last batch accepted; 0 = never */
};

/* A declared drop range (docs/protocol.md, "Drops by policy"). */
struct db_drop {
	uint64_t from, to;
	uint8_t prev[EVENT_HASH_LEN];
	uint8_t last[EVENT_HASH_LEN];
	char reason[32];
};

/* Filters of GET /v1/events; a NULL string or has_* false means "any". */
struct db_query {
	const char *node, *source, *kind;
	int min_severity; /* enum severity, or -1 */
	bool has_since, has_until;
	int64_t since, until; /* ts, ns, inclusive */
	int64_t after;	      /* cursor: row id; 0 = from the start */
	unsigned limit;	      /* 1..1000 */
};

/* One page of results: events in id order, ids[i] the row id of events[i]. */
struct db_page {
	struct event *events;
	int64_t *ids;
	size_t n;
	bool more; /* rows remain after the last one */
};

struct db_counters {
	uint64_t events; /* rows in the events table, every node */
	uint64_t nodes;	 /* edge nodes known (the hub's own node not counted) */
};

/* A user of the hub (hub/auth.h says what the fields may hold). */
#define DB_NAME_MAX 64
#define DB_PASS_MAX 128
struct db_user {
	char name[DB_NAME_MAX + 1];
	int role;		/* enum role */
	char pass[DB_PASS_MAX]; /* encoded Argon2id */
	int64_t created;	/* ns */
	bool disabled;
};

/* A token, stored as its SHA-256 only. */
struct db_token {
	int64_t id; /* row id, assigned by token_put() */
	uint8_t digest[32];
	char kind;		     /* enum token_kind */
	char owner[DB_NAME_MAX + 1]; /* the user (or node) it acts for */
	char name[DB_NAME_MAX + 1];  /* what its owner called it; may be empty */
	int role;		     /* enum role it carries */
	int64_t created, expires;    /* ns; expires 0 = never */
	int64_t revoked;	     /* ns; 0 = valid (an enrollment token: 0 = unused) */
	char labels[512];	     /* JSON object: an enrollment's or a node's labels */
};

/* One line of the audit log: who did what, when, from where, and how it went. */
struct db_audit {
	int64_t id, ts;
	char actor[DB_NAME_MAX + 16];  /* "user:alice", "node:edge-1", "anonymous" */
	char action[32];	       /* "login", "user.create", "token.revoke"... */
	char target[DB_NAME_MAX + 16]; /* what it acted on; may be empty */
	char remote[64];	       /* the client's address */
	char result[16];	       /* "ok", "denied", "failed" */
	char detail[256];
};

/* A node's last reported state (fleet.c). */
enum db_node_status { NODE_UNKNOWN, NODE_ONLINE, NODE_STALE, NODE_OFFLINE };
struct db_fleet {
	char node[DB_NAME_MAX + 1];
	char *state;		/* JSON object, malloc'd: the merged heartbeat reports */
	int64_t last_heartbeat; /* ns */
	int64_t interval_ms;	/* the edge's heartbeat interval */
	int status;		/* enum db_node_status */
};

/* One version of an app in the catalog (hub/catalog.h). */
struct db_app {
	char name[DB_NAME_MAX + 1];
	char version[33];
	char *manifest; /* JSON text, malloc'd */
	int64_t created;
};

/* A JSON document with a key: a deployment (id, app, status) or a node's
 * desired state (key = node). What is inside is hub/deploy.c's. */
struct db_doc {
	int64_t id;
	char key[DB_NAME_MAX + 1];
	char status[16];
	char *doc; /* JSON text, malloc'd */
};

struct db;

struct db_ops {
	const char *name;
	/* Opens (creating when missing) the store under dir. */
	int (*open)(const char *dir, struct db **out);
	void (*close)(struct db *db);

	int (*begin)(struct db *db);
	int (*commit)(struct db *db);
	void (*rollback)(struct db *db);

	/* Writer calls, inside a transaction. */
	int (*insert_event)(struct db *db, const struct event *e, int flags, bool *is_new);
	/* MW_ERR_NOTFOUND when absent. out must be cleared by the caller. */
	int (*get_event)(struct db *db, const char *node, uint64_t seq, struct event *out,
			 int *flags);
	/* A node never seen yet reads as all zeros with its name: not an error. */
	int (*node_get)(struct db *db, const char *node, struct db_node *out);
	int (*node_put)(struct db *db, const struct db_node *n);
	/* Idempotent on (node, from). */
	int (*drop_put)(struct db *db, const char *node, const struct db_drop *d);
	/* Drops of node with to > after, by from; free(*out). */
	int (*drops_get)(struct db *db, const char *node, uint64_t after, struct db_drop **out,
			 size_t *n);

	/* Reader calls, any thread. */
	int (*query)(struct db *db, const struct db_query *q, struct db_page *out);
	/* Every node, by id; free(*out). */
	int (*nodes_list)(struct db *db, struct db_node **out, size_t *n);
	int (*counters)(struct db *db, struct db_counters *out);

	/* Users, tokens and the audit log. Writers inside a transaction;
	 * finders and lists are reader calls. */
	int (*user_put)(struct db *db, const struct db_user *u, bool create);  /* MW_ERR_EXISTS */
	int (*user_get)(struct db *db, const char *name, struct db_user *out); /* NOTFOUND */
	int (*user_delete)(struct db *db, const char *name);		       /* NOTFOUND */
	int (*users_list)(struct db *db, struct db_user **out, size_t *n);     /* free(*out) */
	int (*token_put)(struct db *db, struct db_token *t);		       /* sets t->id */
	int (*token_find)(struct db *db, const uint8_t digest[32], struct db_token *out);
	/* Tokens of owner (NULL: all), newest first; free(*out). */
	int (*tokens_list)(struct db *db, const char *owner, struct db_token **out, size_t *n);
	/* Revokes token id, or with id 0 every token of owner whose kind is
	 * one of the characters of kinds ("sa": a user's sessions and API
	 * tokens; "n": a node's credential), at ts. */
	int (*token_revoke)(struct db *db, int64_t id, const char *owner, const char *kinds,
			    int64_t ts);
	int (*audit_put)(struct db *db, const struct db_audit *a);
	/* Lines with id > after, oldest first, at most limit; free(*out). */
	int (*audit_list)(struct db *db, int64_t after, unsigned limit, struct db_audit **out,
			  size_t *n);

	/* Fleet state (kept in memory by fleet.c, loaded and saved here):
	 * fleet_put in a transaction; fleet_list is a reader. */
	int (*fleet_put)(struct db *db, const struct db_fleet *f);
	/* Every node's, by node; free with db_fleet_free_list(). */
	int (*fleet_list)(struct db *db, struct db_fleet **out, size_t *n);
	/* One point of the downsampled series: the minute's latest values. */
	int (*telemetry_put)(struct db *db, const char *node, int64_t minute, double cpu,
			     double mem, double disk_free);

	/* The catalog. app_put: MW_ERR_EXISTS for a name and version there
	 * already (versions are immutable). apps_list: every version, by name
	 * then age, or those of name; free with db_apps_free(). */
	int (*app_put)(struct db *db, const struct db_app *a);
	int (*apps_list)(struct db *db, const char *name, struct db_app **out, size_t *n);

	/* Deployments (hub/deploy.h). deployment_put inserts when d->id is 0
	 * (and sets it), else replaces; deployments_list: newest first, those
	 * with status (NULL: any), or only id (0: any), at most limit (0: all).
	 * node_config: each node's labels and desired state. Free lists with
	 * db_docs_free(). */
	int (*deployment_put)(struct db *db, struct db_doc *d);
	int (*deployments_list)(struct db *db, const char *status, int64_t id, unsigned limit,
				struct db_doc **out, size_t *n);
	int (*node_config_put)(struct db *db, const char *node, const char *doc);
	int (*node_configs_list)(struct db *db, struct db_doc **out, size_t *n);
};

void db_docs_free(struct db_doc *d, size_t n);

void db_apps_free(struct db_app *a, size_t n);

void db_fleet_free_list(struct db_fleet *f, size_t n);

/* Every backend's handle starts with this. */
struct db {
	const struct db_ops *ops;
};

extern const struct db_ops db_sqlite_ops;

void db_page_free(struct db_page *p);

#endif
