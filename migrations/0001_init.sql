-- 0001_init: nodes, releases and the per-node rows of a release.
-- Times are DATETIME(3) in UTC (every connection sets time_zone = '+00:00').
-- History is never deleted: there is no ON DELETE CASCADE and no API that deletes.

CREATE TABLE nodes (
  id          BIGINT NOT NULL AUTO_INCREMENT,
  hostname    VARCHAR(253) NOT NULL,
  ip          VARCHAR(45) NOT NULL,
  agent_port  INT NOT NULL DEFAULT 8443,
  status      ENUM('online', 'offline') NOT NULL DEFAULT 'online',
  created_at  DATETIME(3) NOT NULL,
  updated_at  DATETIME(3) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_nodes_ip_port (ip, agent_port),
  KEY idx_nodes_status (status, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- idempotency_token makes each release's agent Idempotency-Keys unique even if the
-- database is recreated and ids start again at 1 (agents remember keys for 24 h).
-- owner and lease_expires_at record which controller drives a running release.
CREATE TABLE release_tasks (
  id                 BIGINT NOT NULL AUTO_INCREMENT,
  version            BIGINT NOT NULL,
  status             ENUM('pending', 'running', 'success', 'failed') NOT NULL DEFAULT 'pending',
  batch_size         INT NOT NULL,
  batch_count        INT NOT NULL,
  total_nodes        INT NOT NULL,
  success_nodes      INT NOT NULL DEFAULT 0,
  failed_nodes       INT NOT NULL DEFAULT 0,
  idempotency_token  CHAR(16) NOT NULL,
  owner              VARCHAR(128) NULL,
  lease_expires_at   DATETIME(3) NULL,
  created_at         DATETIME(3) NOT NULL,
  started_at         DATETIME(3) NULL,
  finished_at        DATETIME(3) NULL,
  error_msg          VARCHAR(1024) NULL,
  PRIMARY KEY (id),
  KEY idx_release_tasks_status (status, id),
  CONSTRAINT ck_release_tasks_counts CHECK (version > 0 AND batch_size > 0 AND total_nodes > 0
    AND success_nodes >= 0 AND failed_nodes >= 0 AND success_nodes + failed_nodes <= total_nodes)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- node_ip and agent_port are copied from nodes when the release is created: a release
-- goes to the address the operator saw, and its history stays true if a node moves.
CREATE TABLE release_task_nodes (
  id               BIGINT NOT NULL AUTO_INCREMENT,
  release_task_id  BIGINT NOT NULL,
  node_id          BIGINT NOT NULL,
  node_ip          VARCHAR(45) NOT NULL,
  agent_port       INT NOT NULL,
  batch            INT NOT NULL,
  status           ENUM('pending', 'running', 'success', 'failed', 'skipped') NOT NULL
                   DEFAULT 'pending',
  task_id          VARCHAR(64) NULL,
  started_at       DATETIME(3) NULL,
  finished_at      DATETIME(3) NULL,
  error_msg        VARCHAR(1024) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_rtn_release_node (release_task_id, node_id),
  KEY idx_rtn_release_batch (release_task_id, batch, id),
  KEY idx_rtn_release_status (release_task_id, status),
  KEY idx_rtn_node (node_id),
  CONSTRAINT fk_rtn_release FOREIGN KEY (release_task_id) REFERENCES release_tasks (id),
  CONSTRAINT fk_rtn_node FOREIGN KEY (node_id) REFERENCES nodes (id),
  CONSTRAINT ck_rtn_batch CHECK (batch >= 1)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
