"""The learner's engine: attempts, grading, the judge, the progress store, cost, mastery."""
