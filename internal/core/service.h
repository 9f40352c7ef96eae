/*
 * service: tells systemd how the service is doing (sd_notify's protocol: one datagram to
 * the unix socket in $NOTIFY_SOCKET), without linking libsystemd. Outside systemd
 * ($NOTIFY_SOCKET unset) every call does nothing.
 */
#ifndef CMDB_SERVICE_H
#define CMDB_SERVICE_H

/* Sends state, e.g. "READY=1", "RELOADING=1", "STOPPING=1". 0, or -1 when it failed. */
int service_notify(const char *state);

#endif
