-- The keys stay folded without accents (only Rust can fold them back): a previous release's
-- search typed with accents misses a record until the record is saved again.
DROP TABLE search_key_rebuilds;
