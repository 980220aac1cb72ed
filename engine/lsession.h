/*
 * lsession.h — the session object scripts receive with flow events.
 *
 * One userdata per flow, made when a script first needs it and kept (in
 * the registry, through lt_flow.lua_ref) while the flow lives, so the same
 * object comes back with every event and can key a table. When the flow
 * ends, lt_session_release() copies its final state into the object: a
 * session kept by a script stays readable, with its last values, after the
 * engine has freed the flow. session.data is a table the scripts own.
 */
#ifndef LUNATAP_LSESSION_H
#define LUNATAP_LSESSION_H

#include <lua.h>
#include "flow.h"

void lt_session_open(lua_State *L);

/* For introspection: 1 when idx is a session object. */
int lt_session_is(lua_State *L, int idx);

/* Stores in out[] (at most max) the fields of the session at idx that read
 * non-nil now ("data" always: reading it makes the table), in no
 * particular order; returns how many, or -1 when idx is no session. */
int lt_session_fields(lua_State *L, int idx, const char **out, int max);

/* Pushes the session object of a live flow. */
void lt_session_push(lua_State *L, lt_flow *f);

/* Freezes the flow's object (if any) with its final state and drops the
 * flow's reference to it. Call before the flow is freed. */
void lt_session_release(lua_State *L, lt_flow *f);

#endif
