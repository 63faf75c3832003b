"""Marketing: segments, consented e-mail campaigns, tracking, sign-up forms."""
