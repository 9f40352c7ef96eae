/*
 * store: every SQL statement of the controller lives here, behind functions that speak in
 * nodes and releases. All statements are prepared with bound parameters. Every function
 * takes a connection and a caller-owned err buffer and returns 0 or a negative enum
 * cmdb_err code; CMDB_EINVAL errors are meant for the API client. What a function returns
 * through a pointer to a pointer is malloc'd and the caller's to free. Every write to a
 * release's status or its nodes locks the release row first; a transaction that lost a
 * race, or its connection before its COMMIT, runs again (store_internal.h).
 *
 * This header includes the store's headers, one per concern, each beside its files:
 *   store/nodes.h            the inventory (nodes.c)
 *   store/releases.h         a release and its nodes, the API's reads (release_views.c)
 *   store/release_create.h   a new release and its dry run (release_create.c)
 *   store/release_actions.h  an operator's actions and rollbacks (release_control.c,
 *                            release_rollback.c)
 *   store/release_run.h      the executor's claims, expiry, status reads and rounds
 *                            (release_claim.c, release_control.c, release_round.c)
 *   store/alerts.h           Alertmanager's alerts (alerts.c)
 *   store/events.h           the timeline, the notifications' outbox, /metrics' reads
 *                            (events.c)
 *   store/common.h           the sizes of text fields, the Idempotency-Key
 *   store/scope.h            the nodes outside a principal's scope (scope.c; prepared,
 *                            not called until node_labels exists)
 * store_internal.h is what only the store's files share (idempotency.c, rows.c and more).
 */
#ifndef CMDB_STORE_H
#define CMDB_STORE_H

#include "store/alerts.h"
#include "store/common.h"
#include "store/events.h"
#include "store/nodes.h"
#include "store/release_actions.h"
#include "store/release_create.h"
#include "store/release_run.h"
#include "store/releases.h"
#include "store/scope.h"

#endif
