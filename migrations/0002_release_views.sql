-- 0002_release_views: indexes for GET /api/v1/releases/{id}?view=summary (per-batch
-- counts read from the index alone) and for the full view's batch order.

ALTER TABLE release_task_nodes
  ADD KEY idx_rtn_release_batch_status (release_task_id, batch, status);
