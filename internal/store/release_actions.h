/*
 * store/release_actions: what an operator does to a release: pause, resume, cancel,
 * approve, reject (release_control.c), and roll it back (release_rollback.c).
 */
#ifndef CMDB_STORE_RELEASE_ACTIONS_H
#define CMDB_STORE_RELEASE_ACTIONS_H

#include "state/state.h"
#include "store/releases.h"

/*
 * An operator's action (RELEASE_EV_PAUSE, _RESUME, _CANCEL, _APPROVE or _REJECT) as
 * principal, checked against the state table under the release's row lock. A cancel or
 * a reject skips every pending node ("release cancelled by <principal>") and, with
 * nothing in flight, finishes the release. An approval must come from another principal
 * than the creator (CMDB_EFORBIDDEN). comment (approve, reject; may be NULL) is kept with
 * the decision. CMDB_ESTATE when the table refuses it: err says why and out->status is
 * the current status. *changed = 0 when the release already was in the target status.
 * out: the release afterwards.
 */
int store_release_act(struct db_conn *c, int64_t id, enum release_event ev, const char *principal,
                      const char *comment, struct release *out, int *changed, char *err,
                      size_t errlen);

/*
 * Creates the rollback release of release id as principal (reason: why, for the record),
 * or finds the one it already has (*existing = 1). It targets every node the release
 * dispatched and gives each its own previous_version, in the original's order and batch
 * plan; nodes with no previous version, or whose release left them on it, are rows
 * skipped with that reason. CMDB_ESTATE when id is itself a rollback or has not ended;
 * CMDB_EINVAL when it dispatched nothing or no node has anything to roll back (err
 * says why); CMDB_ENOTFOUND. out: the rollback release.
 */
int store_release_rollback(struct db_conn *c, int64_t id, const char *principal, const char *reason,
                           struct release *out, int *existing, char *err, size_t errlen);

#endif
