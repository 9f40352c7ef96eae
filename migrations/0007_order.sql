-- 0007_order: the order releases and timeline events were committed in, apart from their
-- ids (issue 12). On a Galera cluster every node hands out its own AUTO_INCREMENT values
-- (auto_increment_increment is the cluster size, the offset the node's), and even on
-- one server an id is taken when the row is inserted, not when it commits: neither says
-- which of two releases came first, and a release must wait for every earlier one that
-- shares a node with it. A sequence number taken from one counter row right before the
-- COMMIT does: two transactions that take it are serialised, by the row lock on one
-- server and by certification (the loser runs again) on Galera.

-- The one row of counters: the last release seq handed out.
CREATE TABLE release_order (
  id        TINYINT NOT NULL,
  last_seq  BIGINT NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT ck_release_order_one CHECK (id = 1)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

INSERT INTO release_order (id, last_seq) SELECT 1, COALESCE(MAX(id), 0) FROM release_tasks;

-- seq: the release's place in commit order; NULL only inside its creating transaction.
-- last_event: the seq of its latest timeline event (events are numbered per release).
ALTER TABLE release_tasks
  ADD COLUMN seq BIGINT NULL,
  ADD COLUMN last_event BIGINT NOT NULL DEFAULT 0;

UPDATE release_tasks SET seq = id;

ALTER TABLE release_tasks
  ADD UNIQUE KEY uq_release_tasks_seq (seq),
  ADD KEY idx_release_tasks_status_seq (status, seq);

-- An event's number within its release: 1, 2, 3, ... in commit order, without gaps; the
-- cursor of GET /api/v1/releases/{id}/events. Taken from release_tasks.last_event in the
-- transaction that writes the event.
ALTER TABLE release_events ADD COLUMN seq BIGINT NULL;

UPDATE release_events e
  JOIN (SELECT id, ROW_NUMBER() OVER (PARTITION BY release_id ORDER BY id) AS n
        FROM release_events) x ON x.id = e.id
  SET e.seq = x.n;

UPDATE release_tasks t
  SET t.last_event = (SELECT COUNT(*) FROM release_events e WHERE e.release_id = t.id);

ALTER TABLE release_events
  MODIFY seq BIGINT NOT NULL,
  ADD UNIQUE KEY uq_release_events_seq (release_id, seq);
