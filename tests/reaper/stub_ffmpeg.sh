#!/bin/sh
# Stand-in for ffmpeg in the 200-cycle test: a cheap real process that lives
# until signalled, so the reaper's spawn/stop/reap path runs without the
# cost of an encoder start.  The real ffmpeg runs the same path in
# test_cycles_ffmpeg.
exec sleep 3600
