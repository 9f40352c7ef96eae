-- 0006_operations: the audit timeline of every release and the outbox of webhook
-- notifications (issue 10). Both are written in the same transaction as the state
-- change they record; release_events is append only (never updated or deleted).

CREATE TABLE release_events (
  id          BIGINT NOT NULL AUTO_INCREMENT,
  release_id  BIGINT NOT NULL,
  node_id     BIGINT NULL,
  at          DATETIME(3) NOT NULL,
  type        VARCHAR(32) NOT NULL,
  -- A principal ("token:alice"), or "controller:<owner>" for what a controller did.
  actor       VARCHAR(160) NOT NULL,
  detail      VARCHAR(1024) NULL,
  PRIMARY KEY (id),
  KEY idx_release_events_release (release_id, id),
  CONSTRAINT fk_release_events_release FOREIGN KEY (release_id) REFERENCES release_tasks (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per notification to send: which release, what happened (the status it
-- reached), and its delivery: a controller with RELEASE_WEBHOOK_URL takes a row with a
-- lease (owner, lease_expires_at), posts it, and records the outcome. delivery_id is
-- what a receiver drops duplicates by (delivery is at least once).
CREATE TABLE notifications (
  id                BIGINT NOT NULL AUTO_INCREMENT,
  delivery_id       CHAR(32) NOT NULL,
  release_id        BIGINT NOT NULL,
  event             VARCHAR(32) NOT NULL,
  status            VARCHAR(32) NOT NULL,
  created_at        DATETIME(3) NOT NULL,
  state             ENUM('pending', 'delivered', 'failed') NOT NULL DEFAULT 'pending',
  attempts          INT NOT NULL DEFAULT 0,
  next_attempt_at   DATETIME(3) NOT NULL,
  owner             VARCHAR(128) NULL,
  lease_expires_at  DATETIME(3) NULL,
  delivered_at      DATETIME(3) NULL,
  last_error        VARCHAR(300) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_notifications_delivery (delivery_id),
  KEY idx_notifications_due (state, next_attempt_at),
  CONSTRAINT fk_notifications_release FOREIGN KEY (release_id) REFERENCES release_tasks (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
