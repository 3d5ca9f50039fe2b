-- Placeholder holding number 8 for the immutable-backups migration being written on another
-- branch; replaced by it when both are merged (migration numbers have no gaps).
select 1;
