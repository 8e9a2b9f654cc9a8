-- Bulk loads let the database make call ids, instead of shipping 100,000 of them.
ALTER TABLE calls ALTER COLUMN id SET DEFAULT gen_random_uuid();
