-- Lines the claims have granted a campaign, ever: the dispatcher compares it between passes
-- to tell whether a worker took a job from the campaign's queue (a job taken is a line
-- claimed), and asks the broker for the queue's depth only then (services/dispatcher/leases.py).
-- Written by the claim's UPDATE of the campaign row, which it already makes.
ALTER TABLE campaigns ADD COLUMN lines_granted bigint NOT NULL DEFAULT 0;
