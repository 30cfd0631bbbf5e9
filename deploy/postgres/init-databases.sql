-- Run once by the postgres image on an empty data directory: one database per service
-- (each service owns its database; none reads another's).
CREATE DATABASE ingest;
CREATE DATABASE registry;
CREATE DATABASE notify;
