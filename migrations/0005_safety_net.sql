-- 0005_safety_net: which config version each node runs, per-node target versions,
-- rollback releases, the approval gate, and the Alertmanager alerts that were received
-- (issue 9). Existing rows keep their meaning: a release's nodes get its version.

-- The version of the last release that succeeded on the node, when, and which release
-- it was; NULL until a release succeeds on it. Written in the same transaction that
-- marks the node success in that release.
ALTER TABLE nodes
  ADD COLUMN config_version BIGINT NULL,
  ADD COLUMN config_applied_at DATETIME(3) NULL,
  ADD COLUMN config_release_id BIGINT NULL,
  ADD KEY idx_nodes_config_version (config_version, id);

-- version: what this node is to apply (a rollback gives each node its own).
-- previous_version: what the node ran when the release was created, brought up to date
-- when the node is dispatched; NULL when it ran nothing known.
ALTER TABLE release_task_nodes
  ADD COLUMN version BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN previous_version BIGINT NULL;

UPDATE release_task_nodes r JOIN release_tasks t ON t.id = r.release_task_id
  SET r.version = t.version WHERE r.version = 0;

ALTER TABLE release_tasks
  MODIFY status ENUM('pending', 'running', 'paused', 'success', 'failed', 'partial',
                     'cancelled', 'expired', 'awaiting_approval', 'rejected')
         NOT NULL DEFAULT 'pending',
  -- The release this one rolls back; at most one rollback per release (the UNIQUE key
  -- is what makes a repeated or concurrent rollback request find the same release).
  ADD COLUMN rollback_of BIGINT NULL,
  ADD COLUMN rollback_reason VARCHAR(300) NULL,
  ADD COLUMN auto_rollback TINYINT NOT NULL DEFAULT 0,
  ADD COLUMN approval_required TINYINT NOT NULL DEFAULT 0,
  ADD COLUMN approval_reason VARCHAR(300) NULL,
  ADD COLUMN approved_by VARCHAR(128) NULL,
  ADD COLUMN approved_at DATETIME(3) NULL,
  ADD COLUMN rejected_by VARCHAR(128) NULL,
  ADD COLUMN rejected_at DATETIME(3) NULL,
  ADD COLUMN approval_comment VARCHAR(1024) NULL,
  ADD UNIQUE KEY uq_release_tasks_rollback_of (rollback_of),
  ADD CONSTRAINT fk_release_tasks_rollback_of FOREIGN KEY (rollback_of)
      REFERENCES release_tasks (id);

-- POST /api/v1/alerts: every alert Alertmanager delivered, once per (fingerprint,
-- startsAt, status); a repeated delivery only counts up `deliveries`. `outcome` says
-- what the controller did about it, `rollback_release_id` which release it caused.
CREATE TABLE alerts (
  id                   BIGINT NOT NULL AUTO_INCREMENT,
  fingerprint          VARCHAR(128) NOT NULL,
  starts_at            VARCHAR(64) NOT NULL,
  status               ENUM('firing', 'resolved') NOT NULL,
  alertname            VARCHAR(255) NULL,
  release_label        VARCHAR(64) NULL,
  release_id           BIGINT NULL,
  rollback_release_id  BIGINT NULL,
  outcome              VARCHAR(300) NOT NULL,
  received_by          VARCHAR(128) NOT NULL,
  received_at          DATETIME(3) NOT NULL,
  last_received_at     DATETIME(3) NOT NULL,
  deliveries           INT NOT NULL DEFAULT 1,
  PRIMARY KEY (id),
  UNIQUE KEY uq_alerts_identity (fingerprint, starts_at, status),
  KEY idx_alerts_release (release_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
