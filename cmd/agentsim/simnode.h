/*
 * simnode: the simulated fleet, read from a nodes file. Each node is one IP:PORT that
 * agentsim listens on plus the misbehaviour it simulates. The table is built once at
 * startup and is read-only afterwards, so request threads share it without locking.
 */
#ifndef CMDB_SIMNODE_H
#define CMDB_SIMNODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Which certificate an address presents (simcert mints it); nodes-file "cert=" names. */
enum simnode_cert {
	SIMNODE_CERT_GOOD = 0,  /* fleet CA, the node's IP */
	SIMNODE_CERT_OTHERCA,   /* signed by an unrelated CA */
	SIMNODE_CERT_WRONGNAME, /* SAN names another host */
	SIMNODE_CERT_EXPIRED,   /* validity entirely in the past */
	SIMNODE_CERT_COUNT
};

/* At most one protocol fault per node; "fail" and "delay" combine with any of them. */
enum simnode_fault {
	SIMNODE_FAULT_NONE = 0,
	SIMNODE_FAULT_HANG,      /* both endpoints never answer */
	SIMNODE_FAULT_5XX,       /* POST answers 500 */
	SIMNODE_FAULT_429,       /* POST answers 429, Retry-After: 1 */
	SIMNODE_FAULT_GARBAGE,   /* GET answers 200 with an HTML body */
	SIMNODE_FAULT_BADSTATUS, /* GET answers a status outside the protocol's list */
	SIMNODE_FAULT_BADTASKID, /* POST answers a task_id with forbidden characters */
	SIMNODE_FAULT_FORGET,    /* GET answers 404 for every task, as after a restart */
	SIMNODE_FAULT_COUNT
};

/* Longest "IP:PORT" for IPv4, with its terminator. */
#define SIMNODE_ADDR_MAX sizeof("255.255.255.255:65535")

struct simnode {
	size_t index;                /* position in the table, 0-based */
	char addr[SIMNODE_ADDR_MAX]; /* canonical "IP:PORT" */
	char ip[16];
	unsigned port;
	int64_t delay_us;     /* dispatch to terminal status */
	bool fail;            /* terminal status is "failed" instead of "success" */
	int64_t fail_version; /* failversion=N: only applies of version N fail; 0: none */
	unsigned flaky;       /* the first flaky POSTs answer 503, later ones work */
	enum simnode_fault fault;
	enum simnode_cert cert;
	unsigned line; /* nodes-file line, for messages */
};

struct simnode_table {
	struct simnode *nodes;
	size_t count;
	size_t *slots; /* open-addressing index by addr: node index + 1, 0 = empty */
	size_t nslots; /* a power of two, at least twice count */
};

#define SIMNODE_TABLE_INIT                                                                         \
	{                                                                                          \
		NULL, 0, NULL, 0                                                                   \
	}

/*
 * Reads the nodes file at path into t (which must be SIMNODE_TABLE_INIT). Returns 0, or
 * -1 with a message in err such as "nodes file 7: unknown behaviour 'x'"; on failure t
 * holds nothing that needs releasing.
 */
int simnode_table_load(struct simnode_table *t, const char *path, char *err, size_t errlen);

/* The node whose canonical "IP:PORT" is addr, or NULL. */
const struct simnode *simnode_table_find(const struct simnode_table *t, const char *addr);

/* Frees what load allocated and resets t to SIMNODE_TABLE_INIT. */
void simnode_table_free(struct simnode_table *t);

#endif
