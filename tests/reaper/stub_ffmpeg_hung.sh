#!/bin/sh
# Stand-in for an ffmpeg that hangs and ignores SIGTERM (the disposition
# survives the exec), so only the reaper's SIGKILL after --stop-timeout
# ends it.
trap '' TERM
exec sleep 3600
