"""A fake carrier: takes dial requests, answers with a call id, reports results later."""
