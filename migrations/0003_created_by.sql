-- 0003_created_by: who did it. The authenticated principal that created a node or a
-- release ("token:<name>", "cert:<CN>", or "local" for unauthenticated loopback use),
-- and who last changed a node's status.

ALTER TABLE nodes
  ADD COLUMN created_by VARCHAR(128) NULL,
  ADD COLUMN updated_by VARCHAR(128) NULL;

ALTER TABLE release_tasks
  ADD COLUMN created_by VARCHAR(128) NULL;
