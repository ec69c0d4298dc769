"""The renovation programme: projects, stages, the schedule table and the monthly report."""
