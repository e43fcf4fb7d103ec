-- V0018: the seed's indexes that no access pattern needs (findings F28 to F31).
-- Every build runs every access pattern on the schema before this migration and lists the
-- indexes each plan reads; these are read by none of them, or only where a better index exists,
-- and every one of them is paid for on each write to its table:
--  * ix_projects_updated_at (updated_at DESC over all projects): no pattern orders everyone's
--    projects by time. The planner picked it for the heaviest owner's first page, walking all
--    owners' projects newest first and discarding the others' on the assumption that owner and
--    time are independent; for an owner whose projects are all old that walk reads nearly the
--    whole table. ix_projects_owner_live_recent answers the question directly (F28).
--  * ix_templates_published (published WHERE published): 80 % of templates are published, so the
--    index selects almost everything; it was read only as a list of published rows for search,
--    where a scan of templates costs the same (F29).
--  * ix_templates_active, ix_patterns_active (id WHERE deleted_at IS NULL): lookups by id use the
--    primary key, which a partial index on the same key cannot beat (F30).
--  * ix_patterns_usage_count (usage_count DESC over all patterns), ix_templates_category and
--    ix_templates_category_name_published: no pattern ranks all patterns, and the category
--    patterns read ix_templates_popular (F31).
DROP INDEX ix_projects_updated_at;
DROP INDEX ix_templates_published;
DROP INDEX ix_templates_active;
DROP INDEX ix_patterns_active;
DROP INDEX ix_patterns_usage_count;
DROP INDEX ix_templates_category;
DROP INDEX ix_templates_category_name_published;
