"""Risk detection: encoders, exemplar banks, the trained head, assessment and evaluation."""
