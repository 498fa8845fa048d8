-- Search keys now fold accents as well as case ("zoe" finds "Zoë"). The folding is Unicode
-- decomposition in Rust (crate::core::text::fold), which neither database can repeat exactly,
-- so this migration only lists the tables whose keys are stale; the application recomputes
-- them right after migrating (crate::migrate), table by table, and deletes each row here when
-- its table is done. An interrupted run resumes at the next start.
CREATE TABLE search_key_rebuilds (
    target TEXT PRIMARY KEY
);
INSERT INTO search_key_rebuilds (target) VALUES ('patients'), ('doctors');
