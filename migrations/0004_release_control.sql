-- 0004_release_control: steering a release (issue 8). New statuses, the batch plan, the
-- failure allowance, the schedule, who last changed a release, and idempotency keys.
-- Existing rows keep their meaning: a plain release has batch_plan = its batch_size.

ALTER TABLE release_tasks
  MODIFY status ENUM('pending', 'running', 'paused', 'success', 'failed', 'partial',
                     'cancelled', 'expired') NOT NULL DEFAULT 'pending',
  -- NULL when the release was created with a "batches" plan instead of a batch_size.
  MODIFY batch_size INT NULL,
  -- The plan as given: "1,5,20%,50"; the last entry repeats until the nodes run out.
  ADD COLUMN batch_plan VARCHAR(1024) NOT NULL DEFAULT '',
  -- Batch numbers after which the release pauses by itself ("1,3"), and the highest of
  -- them at which it already did, so that a resumed release does not pause there again.
  ADD COLUMN pause_after VARCHAR(1024) NOT NULL DEFAULT '',
  ADD COLUMN paused_through INT NOT NULL DEFAULT 0,
  ADD COLUMN paused_reason VARCHAR(300) NULL,
  -- As given (NULL when not), and the number of failed nodes they allow.
  ADD COLUMN max_failures INT NULL,
  ADD COLUMN max_failure_percent INT NULL,
  ADD COLUMN failure_allowance INT NOT NULL DEFAULT 0,
  ADD COLUMN not_before DATETIME(3) NULL,
  ADD COLUMN expires_at DATETIME(3) NULL,
  ADD COLUMN updated_by VARCHAR(128) NULL,
  ADD COLUMN updated_at DATETIME(3) NULL,
  -- Releases not finished yet: what claims and the one-release-per-node rule look at.
  ADD KEY idx_release_tasks_open (finished_at, id);

UPDATE release_tasks SET batch_plan = CAST(batch_size AS CHAR) WHERE batch_plan = '';

-- POST /api/v1/releases and /api/v1/nodes with an Idempotency-Key header: the first
-- request's body hash and the resource it created, per principal. A key is kept for at
-- least 24 hours; rows older than two days are removed as new keys arrive.
CREATE TABLE idempotency_keys (
  principal    VARCHAR(128) NOT NULL,
  scope        VARCHAR(16) NOT NULL,
  idem_key     VARCHAR(128) NOT NULL,
  body_sha256  CHAR(64) NOT NULL,
  resource_id  BIGINT NOT NULL,
  created_at   DATETIME(3) NOT NULL,
  PRIMARY KEY (principal, scope, idem_key),
  KEY idx_idempotency_keys_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
