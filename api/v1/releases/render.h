/*
 * render: the JSON shapes of releases, shared by the release handlers: one release and
 * its fields, its batches (full or counted), and the preview of a dry run.
 */
#ifndef CMDB_API_RELEASES_RENDER_H
#define CMDB_API_RELEASES_RENDER_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "store/store.h"

/*
 * What one release's JSON shows besides its row (store_release_groups and
 * store_release_left_out): its groups, and the matches of its selector it left out.
 */
struct release_extras {
	const struct release_group *groups;
	size_t ngroups;
	const struct left_out_node *left_out;
	size_t nleft;
};

/*
 * The release's own fields; x (one release, not a list) adds "batch_sizes" (cut group by
 * group when it has groups), "groups" and "left_out".
 */
cJSON *render_release(const struct release *r, const struct release_extras *x);
/*
 * "batches" of the full view: each batch's nodes, and its status (batch_status, state.h)
 * in a release of status release. The status is of all the batch's nodes: when nodes
 * holds only some (?node_status=), all gives every batch's counts (in batch order, as
 * store_release_batch_counts reads them); otherwise all is NULL and the nodes are counted.
 * With groups, each batch says its "group".
 */
cJSON *render_batches(const struct release_node *nodes, size_t n, const struct batch_counts *all,
                      size_t nall, enum release_status release, const struct release_group *groups,
                      size_t ngroups);
/* "batches" of ?view=summary: each batch's status and its counts (and group, with groups). */
cJSON *render_summary(const struct batch_counts *b, size_t n, enum release_status release,
                      const struct release_group *groups, size_t ngroups);
/* The answer of POST /api/v1/releases?dry_run=1 for the request rq. */
cJSON *render_preview(const struct release_request *rq, const struct release_preview *pv);

#endif
