/*
 * render: the JSON shapes of releases, shared by the release handlers: one release and
 * its fields, its batches (full or counted), and the preview of a dry run.
 */
#ifndef CMDB_API_RELEASES_RENDER_H
#define CMDB_API_RELEASES_RENDER_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "store/store.h"

/* The release's own fields; with_sizes adds "batch_sizes" (one release, not a list). */
cJSON *render_release(const struct release *r, int with_sizes);
/* "batches" of the full view: each batch's status and its nodes. */
cJSON *render_batches(const struct release_node *nodes, size_t n);
/* "batches" of ?view=summary: each batch's status and its counts. */
cJSON *render_summary(const struct batch_counts *b, size_t n);
/* The answer of POST /api/v1/releases?dry_run=1. */
cJSON *render_preview(int64_t version, const struct release_plan *plan, int auto_rollback,
                      const struct release_preview *pv);

#endif
