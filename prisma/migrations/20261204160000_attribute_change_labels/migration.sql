-- reporting.attribute_changes showed job status and management mode changes as bare codes
-- (`3 → 2`) where every other view has labels (issue 25). Two columns are added at the end,
-- old_label and new_label: the value as a person reads it, the code's label for job_status
-- and management_mode (`unknown (n)` for a code this version does not know, as elsewhere),
-- the value itself for every other field. The existing columns keep their values, so BI
-- queries written against them read what they read before. CREATE OR REPLACE keeps the
-- view's grants and comments; only new columns may be added, at the end.
CREATE OR REPLACE VIEW "reporting"."attribute_changes" AS
SELECT x.changed_at, x.run_id, x.entity, x.customer_id, x.tenant_id, c.organization,
       x.field, x.old_value, x.new_value,
       CASE x.field
         WHEN 'job_status' THEN coalesce(ojs.label, 'unknown (' || x.old_value || ')')
         WHEN 'management_mode' THEN coalesce(omm.label, 'unknown (' || x.old_value || ')')
         ELSE x.old_value
       END AS old_label,
       CASE x.field
         WHEN 'job_status' THEN coalesce(njs.label, 'unknown (' || x.new_value || ')')
         WHEN 'management_mode' THEN coalesce(nmm.label, 'unknown (' || x.new_value || ')')
         ELSE x.new_value
       END AS new_label
FROM (
  SELECT h.valid_from AS changed_at,
         h.opened_by_run_id AS run_id,
         'customer'::text AS entity,
         h.customer_id,
         NULL::text AS tenant_id,
         f.field,
         f.old_value,
         f.new_value
  FROM customer_history h
  LEFT JOIN LATERAL (
    SELECT p.id, p.organization, p.owner_email, p.country_or_region, p.job_status,
           p.management_mode, p.removed
    FROM customer_history p
    WHERE p.valid_to = h.valid_from AND p.customer_id = h.customer_id
    LIMIT 1
  ) prev ON true
  CROSS JOIN LATERAL (
    VALUES ('presence', CASE WHEN prev.removed THEN 'removed' WHEN NOT prev.removed THEN 'present' END,
                        CASE WHEN h.removed THEN 'removed' ELSE 'present' END),
           ('organization', prev.organization, h.organization),
           ('owner_email', prev.owner_email, h.owner_email),
           ('country_or_region', prev.country_or_region, h.country_or_region),
           ('job_status', prev.job_status::text, h.job_status::text),
           ('management_mode', prev.management_mode::text, h.management_mode::text)
  ) AS f(field, old_value, new_value)
  -- A first sighting is a presence row only; after it, every attribute that differs.
  WHERE CASE WHEN prev.id IS NULL THEN f.field = 'presence'
             ELSE f.old_value IS DISTINCT FROM f.new_value END
  UNION ALL
  SELECT h.valid_from,
         h.opened_by_run_id,
         'tenant'::text,
         h.customer_id,
         h.tenant_id,
         f.field,
         f.old_value,
         f.new_value
  FROM tenant_history h
  LEFT JOIN LATERAL (
    SELECT p.id, p.name, p.removed
    FROM tenant_history p
    WHERE p.valid_to = h.valid_from AND p.customer_id = h.customer_id AND p.tenant_id = h.tenant_id
    LIMIT 1
  ) prev ON true
  CROSS JOIN LATERAL (
    VALUES ('presence', CASE WHEN prev.removed THEN 'removed' WHEN NOT prev.removed THEN 'present' END,
                        CASE WHEN h.removed THEN 'removed' ELSE 'present' END),
           ('name', prev.name, h.name)
  ) AS f(field, old_value, new_value)
  WHERE CASE WHEN prev.id IS NULL THEN f.field = 'presence'
             ELSE f.old_value IS DISTINCT FROM f.new_value END
) x
JOIN customers c ON c.id = x.customer_id
-- Only the two code fields look a label up; the codes are cast back from the digits the
-- view's text columns hold (the CASE keeps other fields' text from being cast).
LEFT JOIN job_status_codes ojs
  ON x.field = 'job_status' AND ojs.code = CASE WHEN x.field = 'job_status' THEN x.old_value::integer END
LEFT JOIN job_status_codes njs
  ON x.field = 'job_status' AND njs.code = CASE WHEN x.field = 'job_status' THEN x.new_value::integer END
LEFT JOIN management_mode_codes omm
  ON x.field = 'management_mode' AND omm.code = CASE WHEN x.field = 'management_mode' THEN x.old_value::integer END
LEFT JOIN management_mode_codes nmm
  ON x.field = 'management_mode' AND nmm.code = CASE WHEN x.field = 'management_mode' THEN x.new_value::integer END;

COMMENT ON COLUMN "reporting"."attribute_changes"."old_label" IS 'old_value as a person reads it: the label of a job_status or management_mode code (unknown (n) for a code this version does not know), old_value itself for every other field';
COMMENT ON COLUMN "reporting"."attribute_changes"."new_label" IS 'new_value as a person reads it: the label of a job_status or management_mode code (unknown (n) for a code this version does not know), new_value itself for every other field';
