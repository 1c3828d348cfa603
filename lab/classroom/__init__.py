"""The class: submissions, grading a cohort, its report, the trainer's review, certificates."""
