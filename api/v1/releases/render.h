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
/*
 * "batches" of the full view: each batch's nodes, and its status (batch_status, state.h)
 * in a release of status release. The status is of all the batch's nodes: when nodes
 * holds only some (?node_status=), all gives every batch's counts (in batch order, as
 * store_release_batch_counts reads them); otherwise all is NULL and the nodes are counted.
 */
cJSON *render_batches(const struct release_node *nodes, size_t n, const struct batch_counts *all,
                      size_t nall, enum release_status release);
/* "batches" of ?view=summary: each batch's status and its counts. */
cJSON *render_summary(const struct batch_counts *b, size_t n, enum release_status release);
/* The answer of POST /api/v1/releases?dry_run=1. */
cJSON *render_preview(int64_t version, const struct release_plan *plan, int auto_rollback,
                      const struct release_preview *pv);

#endif
