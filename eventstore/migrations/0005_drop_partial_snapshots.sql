-- Snapshots written before the repository completed them (cqrs-es 0.5 stamps a snapshot taken
-- mid-commit with the commit's last sequence, so loads skipped the commit's remaining events) may
-- lack events. Snapshots are a cache: dropping them makes the next load replay each stream, and
-- the next commits write complete ones.
DELETE FROM snapshots;
