-- `sync --customer` takes several ids since the API's customerIds filter: customer_filter
-- holds them comma-separated. Only the documentation changes.
COMMENT ON COLUMN "reporting"."sync_runs"."customer_filter" IS 'the customer ids of a --customer run, comma-separated; null otherwise';
