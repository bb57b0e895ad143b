"""The study, torch-free: a sweep as a table, its statistics, figures, report, explorer page
and claims."""
