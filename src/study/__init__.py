"""The study, torch-free: a sweep as a table, its statistics, figures, report and claims."""
