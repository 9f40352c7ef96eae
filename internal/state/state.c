/*
 * state: the transition tables, and a batch's status derived from them. A transition not
 * listed here does not exist: the API refuses it with 409, and neither the store nor the
 * runner ever writes it.
 */
#include "state/state.h"

#include <stdio.h>
#include <string.h>

struct transition {
	enum release_status from;
	enum release_event ev;
	enum release_status to;
};

static const struct transition release_table[] = {
    {RELEASE_PENDING, RELEASE_EV_CLAIM, RELEASE_RUNNING},
    {RELEASE_PENDING, RELEASE_EV_PAUSE, RELEASE_PAUSED},
    {RELEASE_PENDING, RELEASE_EV_CANCEL, RELEASE_CANCELLED},
    {RELEASE_PENDING, RELEASE_EV_EXPIRE, RELEASE_EXPIRED},

    {RELEASE_RUNNING, RELEASE_EV_PAUSE, RELEASE_PAUSED},
    {RELEASE_RUNNING, RELEASE_EV_PLAN_PAUSE, RELEASE_PAUSED},
    {RELEASE_RUNNING, RELEASE_EV_CANCEL, RELEASE_CANCELLED},
    {RELEASE_RUNNING, RELEASE_EV_HALT, RELEASE_FAILED},
    {RELEASE_RUNNING, RELEASE_EV_SUCCEED, RELEASE_SUCCESS},
    {RELEASE_RUNNING, RELEASE_EV_END_PARTIAL, RELEASE_PARTIAL},

    /* Pausing a paused release changes nothing; a retried request must not fail. */
    {RELEASE_PAUSED, RELEASE_EV_PAUSE, RELEASE_PAUSED},
    {RELEASE_PAUSED, RELEASE_EV_RESUME, RELEASE_PENDING},
    {RELEASE_PAUSED, RELEASE_EV_CANCEL, RELEASE_CANCELLED},
    /* Calls in flight when it paused still end, and may fail it or finish it. */
    {RELEASE_PAUSED, RELEASE_EV_HALT, RELEASE_FAILED},
    {RELEASE_PAUSED, RELEASE_EV_SUCCEED, RELEASE_SUCCESS},
    {RELEASE_PAUSED, RELEASE_EV_END_PARTIAL, RELEASE_PARTIAL},
    /* Paused before it ever started, and its expires_at passed. */
    {RELEASE_PAUSED, RELEASE_EV_EXPIRE, RELEASE_EXPIRED},

    {RELEASE_CANCELLED, RELEASE_EV_CANCEL, RELEASE_CANCELLED},

    /* The approval gate: never claimed until a second principal approves. */
    {RELEASE_AWAITING_APPROVAL, RELEASE_EV_APPROVE, RELEASE_PENDING},
    {RELEASE_AWAITING_APPROVAL, RELEASE_EV_REJECT, RELEASE_REJECTED},
    {RELEASE_AWAITING_APPROVAL, RELEASE_EV_CANCEL, RELEASE_CANCELLED},
    {RELEASE_AWAITING_APPROVAL, RELEASE_EV_EXPIRE, RELEASE_EXPIRED},
    {RELEASE_REJECTED, RELEASE_EV_REJECT, RELEASE_REJECTED},
};

#define NTRANSITIONS (sizeof(release_table) / sizeof(release_table[0]))

static const struct {
	const char *name;
	int terminal;
	int dispatches;
	enum release_rollback rollback;
} release_states[RELEASE_STATUS_COUNT] = {
    [RELEASE_PENDING] = {"pending", 0, 0, ROLLBACK_NOT_YET},
    [RELEASE_RUNNING] = {"running", 0, 1, ROLLBACK_NOT_YET},
    [RELEASE_PAUSED] = {"paused", 0, 0, ROLLBACK_NOT_YET},
    [RELEASE_SUCCESS] = {"success", 1, 0, ROLLBACK_ALLOWED},
    [RELEASE_FAILED] = {"failed", 1, 0, ROLLBACK_ALLOWED},
    [RELEASE_PARTIAL] = {"partial", 1, 0, ROLLBACK_ALLOWED},
    [RELEASE_CANCELLED] = {"cancelled", 1, 0, ROLLBACK_ALLOWED},
    [RELEASE_EXPIRED] = {"expired", 1, 0, ROLLBACK_NOTHING},
    [RELEASE_AWAITING_APPROVAL] = {"awaiting_approval", 0, 0, ROLLBACK_NOT_YET},
    [RELEASE_REJECTED] = {"rejected", 1, 0, ROLLBACK_NOTHING},
};

/* The verb and its participle, for messages ("cannot resume ...: only ... can be resumed"). */
static const struct {
	const char *verb;
	const char *done;
} release_events[RELEASE_EVENT_COUNT] = {
    [RELEASE_EV_PAUSE] = {"pause", "paused"},
    [RELEASE_EV_RESUME] = {"resume", "resumed"},
    [RELEASE_EV_CANCEL] = {"cancel", "cancelled"},
    [RELEASE_EV_APPROVE] = {"approve", "approved"},
    [RELEASE_EV_REJECT] = {"reject", "rejected"},
    [RELEASE_EV_CLAIM] = {"claim", "claimed"},
    [RELEASE_EV_PLAN_PAUSE] = {"pause by plan", "paused by its plan"},
    [RELEASE_EV_HALT] = {"halt", "halted"},
    [RELEASE_EV_SUCCEED] = {"succeed", "completed"},
    [RELEASE_EV_END_PARTIAL] = {"end partially", "completed"},
    [RELEASE_EV_EXPIRE] = {"expire", "expired"},
};

static const struct {
	enum node_status from;
	enum node_event ev;
	enum node_status to;
} node_table[] = {
    {NODE_PENDING, NODE_EV_DISPATCH, NODE_RUNNING},
    {NODE_RUNNING, NODE_EV_SUCCEED, NODE_SUCCESS},
    {NODE_RUNNING, NODE_EV_FAIL, NODE_FAILED},
    /* A call that could not even be started fails a node that was never dispatched. */
    {NODE_PENDING, NODE_EV_FAIL, NODE_FAILED},
    {NODE_PENDING, NODE_EV_SKIP, NODE_SKIPPED},
};

#define NNODE_TRANSITIONS (sizeof(node_table) / sizeof(node_table[0]))

static const char *const node_names[NODE_STATUS_COUNT] = {
    [NODE_PENDING] = "pending", [NODE_RUNNING] = "running", [NODE_SUCCESS] = "success",
    [NODE_FAILED] = "failed",   [NODE_SKIPPED] = "skipped",
};

const char *release_status_name(enum release_status s)
{
	return (unsigned)s < RELEASE_STATUS_COUNT ? release_states[s].name : "unknown";
}

int release_status_parse(const char *name)
{
	for (int i = 0; name && i < RELEASE_STATUS_COUNT; i++)
		if (strcmp(release_states[i].name, name) == 0)
			return i;
	return -1;
}

const char *release_event_name(enum release_event ev)
{
	return (unsigned)ev < RELEASE_EVENT_COUNT ? release_events[ev].verb : "unknown";
}

const char *node_status_name(enum node_status s)
{
	return (unsigned)s < NODE_STATUS_COUNT ? node_names[s] : "unknown";
}

int node_status_parse(const char *name)
{
	for (int i = 0; name && i < NODE_STATUS_COUNT; i++)
		if (strcmp(node_names[i], name) == 0)
			return i;
	return -1;
}

int release_next(enum release_status from, enum release_event ev)
{
	for (size_t i = 0; i < NTRANSITIONS; i++)
		if (release_table[i].from == from && release_table[i].ev == ev)
			return (int)release_table[i].to;
	return -1;
}

size_t release_from(enum release_event ev, enum release_status *from)
{
	size_t n = 0;

	for (int s = 0; s < RELEASE_STATUS_COUNT; s++)
		if (release_next((enum release_status)s, ev) >= 0)
			from[n++] = (enum release_status)s;
	return n;
}

int release_is_terminal(enum release_status s)
{
	return (unsigned)s < RELEASE_STATUS_COUNT && release_states[s].terminal;
}

int release_dispatches(enum release_status s)
{
	return (unsigned)s < RELEASE_STATUS_COUNT && release_states[s].dispatches;
}

enum release_rollback release_rollback_rule(enum release_status s)
{
	return (unsigned)s < RELEASE_STATUS_COUNT ? release_states[s].rollback : ROLLBACK_NOT_YET;
}

/* Writes names[0..count) as "a, b, c" into buf (truncated to len). */
static void write_list(const char *(*name)(int i), int count, char *buf, size_t len)
{
	size_t n = 0;

	if (len)
		buf[0] = '\0';
	for (int i = 0; i < count && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "", name(i));
}

static const char *release_name_at(int i)
{
	return release_states[i].name;
}

static const char *node_name_at(int i)
{
	return node_names[i];
}

void release_status_list(char *buf, size_t len)
{
	write_list(release_name_at, RELEASE_STATUS_COUNT, buf, len);
}

void node_status_list(char *buf, size_t len)
{
	write_list(node_name_at, NODE_STATUS_COUNT, buf, len);
}

int release_refusal(long long id, enum release_status from, enum release_event ev, char *buf,
                    size_t len)
{
	char allowed[160] = "";
	size_t n = 0, k = 0, count = 0;

	/* Statuses where ev changes something; a repeated action (a second pause) is not named. */
	for (size_t i = 0; i < NTRANSITIONS; i++)
		count += release_table[i].ev == ev && release_table[i].from != release_table[i].to;
	for (size_t i = 0; i < NTRANSITIONS && n < sizeof(allowed); i++) {
		if (release_table[i].ev != ev || release_table[i].from == release_table[i].to)
			continue;
		k++;
		n += (size_t)snprintf(allowed + n, sizeof(allowed) - n, "%s%s",
		                      k == 1       ? ""
		                      : k == count ? " or "
		                                   : ", ",
		                      release_status_name(release_table[i].from));
	}
	if (count == 0)
		return snprintf(buf, len, "cannot %s release %lld: no status allows it",
		                release_event_name(ev), id);
	return snprintf(buf, len, "cannot %s release %lld: it is %s; only %s %s release can be %s",
	                release_event_name(ev), id, release_status_name(from),
	                strchr("aeiou", allowed[0]) ? "an" : "a", allowed,
	                (unsigned)ev < RELEASE_EVENT_COUNT ? release_events[ev].done : "changed");
}

/* 1 when status s is named by some transition of the table, as its source. */
static int has_transitions(enum release_status s)
{
	for (size_t i = 0; i < NTRANSITIONS; i++)
		if (release_table[i].from == s)
			return 1;
	return 0;
}

void release_write_table(FILE *out)
{
	int first = 1;

	fputs("| from \\ event |", out);
	for (int ev = 0; ev < RELEASE_EVENT_COUNT; ev++)
		fprintf(out, " %s |", release_events[ev].verb);
	fputs("\n|---|", out);
	for (int ev = 0; ev < RELEASE_EVENT_COUNT; ev++)
		fputs("---|", out);
	fputc('\n', out);
	for (int s = 0; s < RELEASE_STATUS_COUNT; s++) {
		if (!has_transitions((enum release_status)s))
			continue;
		fprintf(out, "| `%s` |", release_states[s].name);
		for (int ev = 0; ev < RELEASE_EVENT_COUNT; ev++) {
			int to = release_next((enum release_status)s, (enum release_event)ev);

			if (to < 0)
				fputs(" |", out);
			else
				fprintf(out, " `%s`%s |", release_states[to].name,
				        to == s ? " (no change)" : "");
		}
		fputc('\n', out);
	}
	/* The statuses no event leaves, in one row. */
	for (int s = 0; s < RELEASE_STATUS_COUNT; s++) {
		if (has_transitions((enum release_status)s))
			continue;
		fprintf(out, "%s`%s`", first ? "| " : ", ", release_states[s].name);
		first = 0;
	}
	if (!first) {
		fputs(" |", out);
		for (int ev = 0; ev < RELEASE_EVENT_COUNT; ev++)
			fputs(" |", out);
		fputc('\n', out);
	}
}

int node_next(enum node_status from, enum node_event ev)
{
	for (size_t i = 0; i < NNODE_TRANSITIONS; i++)
		if (node_table[i].from == from && node_table[i].ev == ev)
			return (int)node_table[i].to;
	return -1;
}

size_t node_from(enum node_event ev, enum node_status *from)
{
	size_t n = 0;

	for (size_t i = 0; i < NNODE_TRANSITIONS; i++)
		if (node_table[i].ev == ev)
			from[n++] = node_table[i].from;
	return n;
}

int batch_ended(const int count[NODE_STATUS_COUNT], enum release_status release)
{
	return count[NODE_RUNNING] == 0 &&
	       (count[NODE_PENDING] == 0 || release_is_terminal(release));
}

enum node_status batch_status(const int count[NODE_STATUS_COUNT], enum release_status release)
{
	if (count[NODE_FAILED])
		return NODE_FAILED;
	if (batch_ended(count, release))
		return count[NODE_SUCCESS] ? NODE_SUCCESS : NODE_SKIPPED;
	return count[NODE_RUNNING] || count[NODE_SUCCESS] ? NODE_RUNNING : NODE_PENDING;
}
