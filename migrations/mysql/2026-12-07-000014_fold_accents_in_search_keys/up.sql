-- Search keys fold accents as well as case; the application recomputes stale keys right after
-- migrating (crate::migrate), table by table, and deletes each row here when its table is done.
CREATE TABLE search_key_rebuilds (
    target VARCHAR(64) PRIMARY KEY
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
INSERT INTO search_key_rebuilds (target) VALUES ('patients'), ('doctors');
