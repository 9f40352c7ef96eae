/*
 * plan: what an operator asks of a release besides its version and nodes: how it is cut
 * into batches (zone by zone, when grouped by a label), where it pauses by itself, how
 * many node failures it tolerates, and when it may run. Pure functions, shared by the API
 * (validation), the store (the batch cut at creation) and the runner (the allowance).
 */
#ifndef CMDB_PLAN_H
#define CMDB_PLAN_H

#include <stddef.h>
#include <stdint.h>

#define PLAN_STEPS_MAX    100  /* entries of "batches" */
#define PLAN_PAUSES_MAX   100  /* entries of "pause_after" */
#define PLAN_TEXT_MAX     1024 /* stored text of either list, with its terminator */
#define PLAN_FAILURES_MAX 1000000

/* One entry of "batches": a node count, or a percentage of the release's nodes. */
struct plan_step {
	int value;
	int percent; /* non-zero: value is a percentage, 1..100 */
};

struct release_plan {
	struct plan_step steps[PLAN_STEPS_MAX]; /* the last one repeats until the nodes run out */
	size_t nsteps;
	int batch_size; /* the plain form {"batch_size": N}: steps = [N]; 0 otherwise */
	int pause_after[PLAN_PAUSES_MAX]; /* batch numbers, ascending, distinct */
	size_t npauses;
	int max_failures;        /* -1 when not given */
	int max_failure_percent; /* -1 when not given */
	int64_t not_before_ms;   /* epoch ms, 0 when not given */
	int64_t expires_at_ms;   /* epoch ms, 0 when not given */
};

/* A plan with no fields given: steps empty, limits unset. */
void plan_init(struct release_plan *p);

/*
 * Size of a batch cut by step for a release of total nodes: a count as it is, a
 * percentage of total rounded down but at least 1 (Ansible's serial rules, computed
 * exactly: Ansible's floating point gives one less for a few values, e.g. 29% of 100).
 */
int plan_step_size(struct plan_step step, int total);

/*
 * Cuts total nodes into batches: sizes[i] is the size of batch i + 1, the last step
 * repeating until the nodes run out (the final batch may be smaller). sizes must hold
 * total entries (every batch has at least one node). Returns the number of batches.
 */
int plan_cut(const struct plan_step *steps, size_t nsteps, int total, int *sizes);

/*
 * The failures a release of total nodes tolerates: max_failures when given, else
 * max_failure_percent of total rounded down, else 0 (the first failure halts).
 */
int plan_allowance(int max_failures, int max_failure_percent, int total);

/* 1 when failed nodes exceed the allowance, so the release must halt. */
int plan_exceeds(int failed, int allowance);

/*
 * Checks pause_after against the cut: every batch number must exist and be followed by
 * another batch. 0, or -1 with a message for the client in err.
 */
int plan_check_pauses(const struct release_plan *p, int batch_count, char *err, size_t errlen);

/*
 * Checks not_before and expires_at against now_ms (epoch ms): neither in the past, and
 * expires_at after not_before. 0, or -1 with a message for the client in err.
 */
int plan_check_schedule(const struct release_plan *p, int64_t now_ms, char *err, size_t errlen);

/* 1 when batch (1-based) is one the plan pauses after. */
int plan_pauses_after(const struct release_plan *p, int batch);

/*
 * A release cut zone by zone (group_by): its nodes grouped by their value of a label,
 * groups in the order of their first node, the nodes without the label in a last group,
 * and the steps cut within each group as plan_cut cuts a release (percentages of the
 * group's size), so that no batch holds nodes of two groups. Batch numbers run on across
 * groups. Free with plan_grouped_free.
 */
struct plan_group {
	const char *value; /* the label's value, borrowed from the caller; NULL: no label */
	int nodes;
	int first_batch; /* 1-based */
	int batches;
};

struct plan_grouped {
	int total;
	int *order;      /* total entries: order[i] is the input index of the i-th node to run */
	int *node_batch; /* total entries: the batch (1-based) of input node k */
	int nbatches;
	int *sizes;       /* nbatches entries: the size of batch b + 1 */
	int *batch_group; /* nbatches entries: the index in groups of batch b + 1 */
	int ngroups;
	struct plan_group *groups; /* in the order they run */
};

#define PLAN_GROUPED_INIT                                                                          \
	{                                                                                          \
		0, NULL, NULL, 0, NULL, NULL, 0, NULL                                              \
	}

/*
 * Cuts total nodes (values[k]: node k's value of the label, NULL when it has none; ""
 * is a value) with steps (nsteps >= 1) into out (PLAN_GROUPED_INIT). 0; CMDB_EINVAL for
 * no steps or a negative total; CMDB_ENOMEM. O(total log total).
 */
int plan_cut_groups(const struct plan_step *steps, size_t nsteps, const char *const *values,
                    int total, struct plan_grouped *out);
void plan_grouped_free(struct plan_grouped *g);

/*
 * Text forms kept in release_tasks: steps as "1,5,20%,50", pause_after as "1,3". The
 * format functions return 0 or -1 when len is too small; the parse functions return 0
 * or -1 on text they did not write (the database is checked like any other input).
 */
int plan_steps_format(const struct plan_step *steps, size_t n, char *buf, size_t len);
int plan_steps_parse(const char *text, struct plan_step *steps, size_t *n);
int plan_pauses_format(const int *pauses, size_t n, char *buf, size_t len);
int plan_pauses_parse(const char *text, int *pauses, size_t *n);

#endif
