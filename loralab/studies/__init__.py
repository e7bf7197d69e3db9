"""Study runners: a matrix of runs and the K-specialist study."""
