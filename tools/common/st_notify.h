/*
 * The systemd readiness protocol (sd_notify(3)) without libsystemd: one
 * datagram to $NOTIFY_SOCKET.  Lets the units use Type=notify, so "started"
 * means "serving" and a failed setup shows as a failed start.
 */
#ifndef ST_NOTIFY_H
#define ST_NOTIFY_H

/**
 * Send state ("READY=1", "RELOADING=1", "STOPPING=1", "STATUS=...", lines
 * joined by '\n') to the service manager.  0 when sent or when not run by
 * one (no NOTIFY_SOCKET), else a negative errno.
 */
int st_notify(const char *state);

#endif
