"""Everything that spawns the ffmpeg binary: which one, how its argv is built, how it is reaped."""
