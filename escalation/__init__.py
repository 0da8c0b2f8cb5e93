"""Cases, the counsellor queue, alerts, SLAs and the counsellor <-> young person handoff."""
