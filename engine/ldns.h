/*
 * ldns.h — require("lunatap.dns_scan"): DNS messages decoded in C for
 * lua/lunatap/dns_wire.lua, which still decodes every message this one
 * will not take.
 *
 *   local parse = scan.parser(types, classes, rcodes, opcodes, edns_options)
 *   local msg = parse(buf)   -- buf: a buffer or a string; nil when not taken
 *
 * The five tables map numbers to names (dns_wire's own); a number missing
 * from one reads as TYPE65534, CLASS7, RCODE12, OPCODE9 or OPTION99. A
 * message is taken only when all of it decodes without an error: the
 * header, every question and record its counts announce, every name
 * within the limits (MAX_LABELS labels, MAX_NAME_TEXT bytes of text,
 * pointers strictly backwards), and the data of every record of a type
 * dns_wire decodes. The table it returns is the one dns_wire.parse would
 * (spec/dns_scan_spec.lua compares the two on every DNS message of the
 * captures and on mutations of them). Anything else returns nil, and
 * dns_wire reads the message, with its partial result and its error.
 */
#ifndef LUNATAP_LDNS_H
#define LUNATAP_LDNS_H

#include <lua.h>

#define LT_DNS_MAX_LABELS 255
#define LT_DNS_MAX_NAME_TEXT 1025

/* Pushes the module table. */
void lt_dns_push_module(lua_State *L);

#endif
