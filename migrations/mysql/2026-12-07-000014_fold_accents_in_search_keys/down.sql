DROP TABLE search_key_rebuilds;
