-- How far the daemon has followed the population register's status changes (`WatchStatus`):
-- the sequence number of the last change handled, so that a restarted watcher resumes after
-- it instead of missing or replaying changes. One row; the number only moves forward.
CREATE TABLE register_watch (
    id            SMALLINT PRIMARY KEY CHECK (id = 1),
    last_sequence BIGINT NOT NULL CHECK (last_sequence >= 0)
);
