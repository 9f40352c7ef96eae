/*
 * notify: delivers webhook notifications from the outbox (RELEASE_WEBHOOK_URL). A thread
 * of its own, with its own database connection, takes due notifications with a lease,
 * posts each as JSON (signed when RELEASE_WEBHOOK_SECRET is set), and records every
 * attempt on the release's timeline. Delivery is at least once; a receiver that is
 * down, slow or failing delays no release and changes no outcome.
 */
#ifndef CMDB_NOTIFY_H
#define CMDB_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "store/store.h"

/* Payloads are at most this long. */
#define NOTIFY_BODY_MAX (16 * 1024)

struct notifier;

/* NULL with err set when it cannot be set up (libcurl). cfg must outlive it. */
struct notifier *notify_new(const struct config *cfg, char *err, size_t errlen);
/* Starts the delivery thread; 0 or -1. */
int notify_start(struct notifier *n);
/* Stops the thread (an attempt in flight is abandoned and retried later) and joins it. */
void notify_stop(struct notifier *n);
void notify_free(struct notifier *n);

/* ---- pure parts, unit-tested ---- */

/*
 * The URL as it may be logged: the scheme, host and path as they are, "***@" where
 * credentials were, "?***" where a query was. Returns the length it needs.
 */
size_t notify_mask_url(const char *url, char *out, size_t len);

/*
 * The JSON body for n (at most NOTIFY_BODY_MAX bytes, long texts cut): delivery_id,
 * event, release_id, version, status, counts, first_error, duration_ms, created_by,
 * and a one-line "text" for chat webhooks. Returns its length, or -1.
 */
int notify_payload(const struct notification *n, int64_t now_ms, char *out, size_t len);

/* "sha256=<64 hex digits>": the HMAC-SHA256 of body under secret. */
void notify_signature(const char *secret, const char *body, size_t len, char out[72]);

#endif
