// What a run does when its caller says nothing else. Configuration (src/config.ts) takes its
// defaults from here, so that dependencies point one way: from configuration to the sync.

/** Pages in flight at once after page 1 (ELEMENTS_CONCURRENCY). */
export const DEFAULT_CONCURRENCY = 4;

/** The mass-removal guard (MAX_REMOVAL_FRACTION): a run that would remove more removes none. */
export const DEFAULT_MAX_REMOVAL_FRACTION = 0.2;

/** Six hours (SYNC_MAX_DURATION_MS): a nightly run of a million customers takes minutes. */
export const DEFAULT_MAX_RUN_MS = 6 * 60 * 60 * 1000;

/**
 * Customers staged before a batch is merged: a few pages' worth, so each statement does
 * enough to be worth its round trip (pages of 5, in tests, merge at the end of small runs).
 */
export const DEFAULT_MIN_MERGE_BATCH = 250;
