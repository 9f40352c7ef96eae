-- 0008_labels: what a node is (issue 22): its labels, releases made from a label
-- selector and cut zone by zone (group_by), and the imports of an inventory. Expand
-- only: every table and column is new, and what the previous binary writes still
-- means what it meant (a release without these fields has no selector and no groups).

-- A node's labels: Kubernetes' keys and values (internal/labels), ASCII only. ascii_bin
-- compares them as bytes, as the selector does in memory: "Zone" and "zone" differ.
-- (node_id, k) reads a node's set in key order; (k, v, node_id) finds the nodes a
-- requirement selects without reading the others.
CREATE TABLE node_labels (
  node_id  BIGINT NOT NULL,
  k        VARCHAR(317) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  v        VARCHAR(63) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  PRIMARY KEY (node_id, k),
  KEY idx_node_labels_kv (k, v, node_id),
  CONSTRAINT fk_node_labels_node FOREIGN KEY (node_id) REFERENCES nodes (id)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;

-- selector: the text the release was made from (NULL: node_ids or every online node);
-- group_by: the label key its nodes were grouped by (NULL: not grouped);
-- pause_between_groups: it pauses (reason group_done) after each group but the last.
ALTER TABLE release_tasks
  ADD COLUMN selector VARCHAR(4096) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ADD COLUMN group_by VARCHAR(317) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ADD COLUMN pause_between_groups TINYINT NOT NULL DEFAULT 0;

-- The groups of a grouped release, in the order they run: the label's value (NULL for
-- the nodes without the label, always last) and the batches that hold its nodes. Written
-- with the release, never changed: a later label change moves no node between groups.
CREATE TABLE release_groups (
  release_task_id  BIGINT NOT NULL,
  position         INT NOT NULL,
  value            VARCHAR(63) CHARACTER SET ascii COLLATE ascii_bin NULL,
  first_batch      INT NOT NULL,
  batch_count      INT NOT NULL,
  node_count       INT NOT NULL,
  PRIMARY KEY (release_task_id, position),
  CONSTRAINT fk_release_groups_release FOREIGN KEY (release_task_id)
      REFERENCES release_tasks (id),
  CONSTRAINT ck_release_groups CHECK (position >= 1 AND first_batch >= 1
    AND batch_count >= 1 AND node_count >= 1)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The nodes a release's selector matched that it left out (offline at its creation),
-- at the address they had then, as release_task_nodes keeps its nodes'.
CREATE TABLE release_left_out (
  release_task_id  BIGINT NOT NULL,
  node_id          BIGINT NOT NULL,
  node_ip          VARCHAR(45) NOT NULL,
  agent_port       INT NOT NULL,
  reason           VARCHAR(32) NOT NULL,
  PRIMARY KEY (release_task_id, node_id),
  CONSTRAINT fk_release_left_out_release FOREIGN KEY (release_task_id)
      REFERENCES release_tasks (id),
  CONSTRAINT fk_release_left_out_node FOREIGN KEY (node_id) REFERENCES nodes (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- POST /api/v1/nodes/import: one row per import that wrote (or found unchanged) its
-- nodes, who made it, and what it did to each item, so that a request repeated with its
-- Idempotency-Key answers what the first one did. items: "<id><c|u|n>" per item in
-- request order, comma-separated (created, updated, unchanged).
CREATE TABLE node_imports (
  id          BIGINT NOT NULL AUTO_INCREMENT,
  mode        VARCHAR(16) NOT NULL,
  total       INT NOT NULL,
  created     INT NOT NULL,
  updated     INT NOT NULL,
  unchanged   INT NOT NULL,
  items       MEDIUMTEXT CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  created_by  VARCHAR(128) NULL,
  created_at  DATETIME(3) NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
