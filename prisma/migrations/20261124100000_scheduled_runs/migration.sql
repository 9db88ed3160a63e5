-- The scheduled worker (`elements-sync start`).

-- Which scheduled fire a run served; null for runs started by hand or at worker start.
ALTER TABLE "sync_runs" ADD COLUMN "scheduled_for" TIMESTAMPTZ(6);

-- One row per scheduled fire that a worker claimed. Replicas all fire at the same cron
-- time; the primary key lets exactly one of them insert the row, and so run, even when
-- their clocks differ. A row is kept after the run (a late replica must still lose), and
-- rows older than 90 days are pruned by the claims themselves.
CREATE TABLE "sync_fires" (
    "task" TEXT NOT NULL,
    "fire_at" TIMESTAMPTZ(6) NOT NULL,
    "claimed_by" TEXT NOT NULL,
    "claimed_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(6),

    CONSTRAINT "sync_fires_pkey" PRIMARY KEY ("task","fire_at")
);
