"""Runs into output folders: the run service, run folders, geodesic runs, jobs, clips, video and backends."""
