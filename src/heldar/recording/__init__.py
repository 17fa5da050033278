"""Recording: one supervised ffmpeg per camera, record modes, schedules, triggers and pre-roll."""
