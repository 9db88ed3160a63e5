-- How a run was started, where scheduled_for cannot tell: the run `start` makes at once
-- with SYNC_ON_START serves no scheduled fire, yet was not started by hand either.
ALTER TABLE "sync_runs" ADD COLUMN "on_start" BOOLEAN NOT NULL DEFAULT false;
